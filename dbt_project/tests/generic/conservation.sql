{#
    No legacy row is lost and none is counted twice: every id of the legacy table is found exactly once among
    the migrated rows (by their legacy id) and the rejected or merged rows together, and nothing else is found
    there. Fails with one row per id that breaks this, and how often it was found.
#}
{% test conservation(model, legacy_table, migrated, migrated_key) %}
    with

    legacy as (
        select id as legacy_id from {{ model }}
    ),

    accounted as (
        select {{ migrated_key }} as legacy_id from {{ migrated }}
        union all
        select legacy_id from {{ ref('rejects') }}
        where legacy_table = '{{ legacy_table }}'
    ),

    times_accounted as (
        select
            accounted.legacy_id,
            count(*) as times_found
        from accounted
        group by accounted.legacy_id
    ),

    final as (
        select
            coalesce(legacy.legacy_id, times_accounted.legacy_id) as legacy_id,
            legacy.legacy_id is not null as is_legacy_row,
            coalesce(times_accounted.times_found, 0) as times_found
        from legacy
        full outer join times_accounted
            on legacy.legacy_id = times_accounted.legacy_id
    )

    select * from final
    where not final.is_legacy_row or final.times_found <> 1
{% endtest %}
