{#
    No legacy row is lost and none is counted twice: every legacy id is found among the migrated rows (by their
    legacy id) and the rejected or merged rows together exactly as many times as the legacy table holds it (once,
    unless the legacy table repeats it: then every copy is rejected), NULL ids too, and nothing else is found
    there. Fails with one row per id that breaks this, and how often it was staged and found.
#}
{% test conservation(model, legacy_table, migrated, migrated_key) %}
    with

    legacy as (
        select
            id is null as is_null_id,
            coalesce(id, 0) as legacy_id,
            count(*) as times_staged
        from {{ model }}
        group by id is null, coalesce(id, 0)
    ),

    accounted as (
        select {{ migrated_key }} as legacy_id from {{ migrated }}
        union all
        select legacy_id from {{ ref('rejects') }}
        where legacy_table = '{{ legacy_table }}'
    ),

    times_accounted as (
        -- NULL ids as a group of their own, joined by a flag: `is not distinct from` could not hash.
        select
            accounted.legacy_id is null as is_null_id,
            coalesce(accounted.legacy_id, 0) as legacy_id,
            count(*) as times_found
        from accounted
        group by accounted.legacy_id is null, coalesce(accounted.legacy_id, 0)
    ),

    final as (
        select
            coalesce(legacy.is_null_id, times_accounted.is_null_id) as is_null_id,
            coalesce(legacy.legacy_id, times_accounted.legacy_id) as legacy_id,
            coalesce(legacy.times_staged, 0) as times_staged,
            coalesce(times_accounted.times_found, 0) as times_found
        from legacy
        full outer join times_accounted
            on
                legacy.is_null_id = times_accounted.is_null_id
                and legacy.legacy_id = times_accounted.legacy_id
    )

    select * from final
    where final.times_staged <> final.times_found
{% endtest %}
