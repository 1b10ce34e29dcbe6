with

orders as (
    select * from {{ ref('int_orders_resolved') }}
    where outcome = 'migrated'
),

final as (
    select
        orders.legacy_order_id::bigint as legacy_order_id,
        orders.legacy_user_id::bigint as legacy_user_id,
        orders.status::varchar as status,
        orders.ordered_at::timestamp as ordered_at,
        -- The total is quantity times unit price; a legacy total that disagrees is a warning (rule O5).
        orders.computed_total::numeric(12, 2) as total_amount,
        orders.order_currency::varchar as currency
    from orders
)

select * from final
