with

products as (
    select * from {{ ref('int_products_classified') }}
    where outcome = 'migrated'
),

final as (
    select
        products.legacy_product_id::integer as legacy_product_id,
        products.product_name::varchar(100) as name,
        products.description::text as description,
        products.category::varchar(50) as category_name,
        products.price::numeric(12, 2) as price,
        products.currency::varchar(3) as currency,
        products.created_at::timestamp as created_at
    from products
)

select * from final
