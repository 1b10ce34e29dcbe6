with

orders as (
    select * from {{ ref('int_orders_resolved') }}
    where outcome = 'migrated'
),

final as (
    select
        orders.legacy_order_id::integer as legacy_order_id,
        orders.legacy_product_id::integer as legacy_product_id,
        orders.quantity::integer as quantity,
        orders.unit_price::numeric(12, 2) as unit_price,
        orders.unit_price_currency::varchar(3) as currency
    from orders
)

select * from final
