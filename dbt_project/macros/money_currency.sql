{#
    Rule M2: the currency a money text names, from its money_currency_key() and its row of currency_lookup()
    (`lookup`, joined on that key): the one currency a spelling names, or for a spelling several currencies share
    (`$`, `kr`), the legacy currency when it is one of them. Null for a bare amount and for a spelling the seed
    does not know or that names several currencies, none of them the legacy one.
#}
{% macro money_currency(key, lookup) -%}
    case
        when {{ key }} is not null and {{ lookup }}.currency_count = 1 then {{ lookup }}.only_currency
        when {{ key }} is not null and {{ lookup }}.names_legacy_currency then '{{ legacy_currency() }}'
    end
{%- endmacro %}
