{#
    The key a currency spelling is looked up by (rule M2): lower case, without spaces, dots, commas and hyphens, so
    `US$`, `us $` and `U.S.$` are one; null when nothing is left. Symbols are kept: they are what it is made of.
#}
{% macro currency_key(value) -%}
    nullif(lower(regexp_replace({{ value }}, '[\s.,-]', '', 'g')), '')
{%- endmacro %}
