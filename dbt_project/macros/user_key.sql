{# The key a user is looked up by, from a username or an email (rule O1): lower case, no whitespace at all. #}
{% macro user_key(value) -%}
    lower(regexp_replace({{ value }}, '\s+', '', 'g'))
{%- endmacro %}
