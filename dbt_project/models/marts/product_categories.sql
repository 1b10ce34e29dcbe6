with

products as (
    select * from {{ ref('int_products_classified') }}
    where outcome = 'migrated' and category is not null
),

final as (
    select distinct products.category::varchar as name
    from products
)

select * from final
