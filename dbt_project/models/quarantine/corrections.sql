-- Every per-row correction of the corrections files, in the quarantine's shape, for the ledger: `corrected` with
-- reason correction_applied where it was applied, else a `warning` (correction_stale, correction_unparseable) that
-- says it changed nothing. raw_value is the value the correction names; evidence holds the corrected value, the
-- note, the author and where the correction is written, and for a stale one what the legacy row holds instead.
with

corrections as (
    select * from {{ ref('stg_legacy__corrections') }}
),

final as (
    select
        corrections.legacy_table,
        corrections.legacy_id,
        case when corrections.correction_status = 'applied' then 'corrected' else 'warning' end as outcome,
        'transform' as stage,
        'correction_' || corrections.correction_status as reason_code,
        corrections.column_name,
        corrections.raw_value,
        null::bigint as merged_into_legacy_id,
        jsonb_build_object(
            'corrected_value', corrections.corrected_value,
            'note', corrections.note,
            'author', corrections.author,
            'file', corrections.source_file,
            'line', corrections.line
        )
        || case
            when corrections.correction_status = 'stale'
                then jsonb_build_object(
                        'legacy_rows', corrections.legacy_rows,
                        'legacy_value', corrections.legacy_value
                    )
            else '{}'::jsonb
        end as evidence,
        -- A row that is gone, or an id the legacy table repeats, has none: its id and nothing else, as the ledger's
        -- raw_row must hold an object (the rejects hold every copy of a repeated id).
        coalesce(corrections.legacy_row, jsonb_build_object('id', corrections.legacy_id)) as legacy_row
    from corrections
)

select * from final
