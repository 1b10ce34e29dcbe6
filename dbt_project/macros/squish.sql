{# Trimmed, with every run of whitespace made one space (rules A1, N1). #}
{% macro squish(value) -%}
    btrim(regexp_replace({{ value }}, '\s+', ' ', 'g'))
{%- endmacro %}
