{# Trimmed, with every run of whitespace made one space (rules A1, N1). #}
{% macro squish(value) -%}
    btrim(regexp_replace({{ value }}, '\s+', ' ', 'g'))
{%- endmacro %}

{# The key a free-text spelling is looked up by in a mapping seed: squished and lower case. #}
{% macro spelling_key(value) -%}
    lower({{ squish(value) }})
{%- endmacro %}

{# The key a user is looked up by, from a username or an email (rule O1): lower case, no whitespace at all. #}
{% macro user_key(value) -%}
    lower(regexp_replace({{ value }}, '\s+', '', 'g'))
{%- endmacro %}
