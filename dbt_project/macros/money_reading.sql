{#
    Rule M4: one reading of an ambiguous amount (a single `.` or `,` followed by exactly three digits), null for
    any other value. `thousands` reads the separator as a thousands group (1,234 -> 1234); `decimal` as a decimal
    point, unrounded (5.001 -> 5.001, which no numeric(12, 2) value equals, so it never agrees with evidence).
#}
{% macro money_reading(digits, reading) -%}
    {%- if reading == 'thousands' -%}
        (case when {{ digits }} ~ '^-?\d{1,3}[.,]\d{3}$' then translate({{ digits }}, '.,', '')::numeric end)
    {%- elif reading == 'decimal' -%}
        (case when {{ digits }} ~ '^-?\d{1,3}[.,]\d{3}$' then replace({{ digits }}, ',', '.')::numeric end)
    {%- else -%}
        {{ exceptions.raise_compiler_error("money_reading: reading must be 'thousands' or 'decimal'") }}
    {%- endif -%}
{%- endmacro %}
