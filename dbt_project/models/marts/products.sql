with

products as (
    select * from {{ ref('int_products_classified') }}
    where outcome = 'migrated'
),

final as (
    select
        products.legacy_product_id::bigint as legacy_product_id,
        products.product_name::varchar as name,
        products.description::text as description,
        products.category::varchar as category_name,
        products.price::numeric(12, 2) as price,
        products.currency::varchar as currency,
        products.created_at::timestamp as created_at
    from products
)

select * from final
