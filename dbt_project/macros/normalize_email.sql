{# An email as the target stores it: trimmed and lower case (rule E1). Validity is is_valid_email(). #}
{% macro normalize_email(value) -%}
    lower(btrim({{ value }}))
{%- endmacro %}
