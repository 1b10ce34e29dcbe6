{#
    Rule M4: of an ambiguous amount's two readings, the one equal to the evidence (same amount and currency),
    as numeric(12, 2); null when neither is. The readings differ unless both are 0, so at most one value agrees.
#}
{% macro money_agreeing_reading(thousands_reading, decimal_reading, currency, evidence, evidence_currency) -%}
    (case
        when {{ currency }} = {{ evidence_currency }} and {{ thousands_reading }} = {{ evidence }}
            then {{ thousands_reading }}
        when {{ currency }} = {{ evidence_currency }} and {{ decimal_reading }} = {{ evidence }}
            then {{ decimal_reading }}
    end)::numeric(12, 2)
{%- endmacro %}
