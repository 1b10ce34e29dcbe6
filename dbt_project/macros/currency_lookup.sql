{#
    The currency_names seed by currency_key (rule M2): how many currencies each spelling names, the one it names
    when it names one, and whether the legacy currency is among those it names.
#}
{% macro currency_lookup() -%}
    (
        select
            {{ currency_key('currency_spelling') }} as currency_key,
            count(distinct currency) as currency_count,
            min(currency) as only_currency,
            bool_or(currency = '{{ legacy_currency() }}') as names_legacy_currency
        from {{ ref('currency_names') }}
        group by {{ currency_key('currency_spelling') }}
    )
{%- endmacro %}
