{# An email as the target stores it: trimmed and lower case (rule E1). Validity is is_valid_email(). #}
{% macro normalize_email(value) -%}
    lower(btrim({{ value }}))
{%- endmacro %}

{# One @, a local part and a dotted domain without spaces or a trailing dot (rule E2). #}
{% macro is_valid_email(normalized) -%}
    coalesce({{ normalized }} ~ '^[a-z0-9._%+''-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$', false)
{%- endmacro %}
