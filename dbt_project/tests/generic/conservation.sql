{#
    No legacy row is lost: every row of the legacy table is migrated (present in `migrated` by its legacy id)
    or recorded in rejects (rejected or merged), and none is both. Fails with the counts when they disagree.
#}
{% test conservation(model, legacy_table, migrated, migrated_key) %}
    with

    legacy as (
        select id as legacy_id from {{ model }}
    ),

    migrated as (
        select {{ migrated_key }} as legacy_id from {{ migrated }}
    ),

    rejected as (
        select legacy_id from {{ ref('rejects') }}
        where legacy_table = '{{ legacy_table }}'
    ),

    accounted as (
        select legacy_id from migrated
        union all
        select legacy_id from rejected
    ),

    counts as (
        select
            (select count(*) from legacy) as legacy_rows,
            (select count(*) from migrated) as migrated_rows,
            (select count(*) from rejected) as rejected_or_merged_rows,
            (select count(*) from accounted inner join legacy using (legacy_id)) as matched_rows
    )

    select * from counts
    where legacy_rows <> migrated_rows + rejected_or_merged_rows or matched_rows <> legacy_rows
{% endtest %}
