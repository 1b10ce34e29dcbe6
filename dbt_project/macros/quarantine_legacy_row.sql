{#
    The legacy row each quarantine row is about, for the ledger's raw_row: joins that give `relation` (a CTE with
    legacy_table, legacy_id and legacy_row) the relation `found` with one column, `legacy_row`. A row that carries
    its legacy_row (rule K1: no id, or one the legacy table repeats, so the id cannot find it) keeps it; every other
    one is read from its legacy table by id, here, rather than copied through the staging and intermediate tables
    (at 1 M orders, half their size).
#}
{% macro quarantine_legacy_row(relation) -%}
    {%- for table in ['old_users', 'old_products', 'old_orders'] %}
    left join {{ source('legacy', table) }} as legacy_{{ table }}
        on
            {{ relation }}.legacy_row is null
            and {{ relation }}.legacy_table = '{{ table }}'
            and {{ relation }}.legacy_id = legacy_{{ table }}.id
    {%- endfor %}
    -- LIMIT ALL keeps the subquery from being pulled up into the select, which would build the JSON once per use.
    cross join lateral (
        select
            coalesce(
                {{ relation }}.legacy_row,
                to_jsonb(legacy_old_users.*),
                to_jsonb(legacy_old_products.*),
                to_jsonb(legacy_old_orders.*)
            ) as legacy_row
        limit all
    ) as found
{%- endmacro %}
