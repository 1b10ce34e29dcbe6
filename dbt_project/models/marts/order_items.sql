with

orders as (
    select * from {{ ref('int_orders_resolved') }}
    where outcome = 'migrated'
),

final as (
    select
        orders.legacy_order_id::bigint as legacy_order_id,
        orders.legacy_product_id::bigint as legacy_product_id,
        orders.quantity::integer as quantity,
        orders.resolved_unit_price::numeric(12, 2) as unit_price,
        orders.order_currency::varchar as currency
    from orders
)

select * from final
