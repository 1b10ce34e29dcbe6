{#
    What rule M2 inferred a bare amount's currency from when nothing related names one, as the ledger's evidence:
    the currency taken and the setting it came from.
#}
{% macro currency_assumed_evidence(currency) -%}
    jsonb_build_object('currency', {{ currency }}, 'from', 'LEGACY_CURRENCY')
{%- endmacro %}
