{# The key a product name is looked up by (rule O2): squished and lower case. #}
{% macro spelling_key(value) -%}
    lower({{ squish(value) }})
{%- endmacro %}
