-- When the legacy snapshot was taken (legacy server clock): "now" for rule O6, the same for every row.
with

source as (
    select * from {{ source('legacy', 'legacy_snapshot') }}
),

final as (
    select source.taken_at as snapshot_taken_at
    from source
)

select * from final
