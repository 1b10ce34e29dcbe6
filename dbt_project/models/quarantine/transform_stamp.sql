-- Which staging snapshot the marts and the quarantine were built from. Built last, and only when everything
-- it depends on was built and passed its tests; publish refuses marts whose stamp is not the staging's own.
-- depends_on: {{ ref('users') }}
-- depends_on: {{ ref('addresses') }}
-- depends_on: {{ ref('product_categories') }}
-- depends_on: {{ ref('products') }}
-- depends_on: {{ ref('orders') }}
-- depends_on: {{ ref('order_items') }}
-- depends_on: {{ ref('rejects') }}
-- depends_on: {{ ref('warnings') }}
-- depends_on: {{ ref('corrections') }}
with

snapshot as (
    select * from {{ ref('stg_legacy__snapshot') }}
),

final as (
    select snapshot.snapshot_taken_at
    from snapshot
)

select * from final
