{# The key a free-text spelling is looked up by in a mapping seed: lower case, single spaces, trimmed. #}
{% macro spelling_key(value) -%}
    lower(btrim(regexp_replace({{ value }}, '\s+', ' ', 'g')))
{%- endmacro %}
