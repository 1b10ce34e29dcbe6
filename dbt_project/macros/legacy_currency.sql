{#
    The legacy app's own currency (rule M2): the dbt var legacy_currency, which the loader sets from
    LEGACY_CURRENCY after checking it is an ISO 4217 code. Run by hand with another value, the marts' currency_code
    tests and the target's check refuse it.
#}
{% macro legacy_currency() -%}
    {{ var('legacy_currency', 'USD') | string | upper | replace("'", "") }}
{%- endmacro %}
