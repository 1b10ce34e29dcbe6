-- One row per legacy product with its canonical category and outcome. A product without a name is rejected
-- (rule R1); an unreadable price or date is migrated as null with a warning (see the warnings model).
with

products as (
    select * from {{ ref('stg_legacy__products') }}
),

category_synonyms as (
    select * from {{ ref('category_synonyms') }}
),

categorized as (
    select
        products.*,
        category_synonyms.category
    from products
    left join category_synonyms
        on products.category_key = category_synonyms.category_spelling
),

classified as (
    select
        categorized.*,
        case when categorized.product_name is null then 'rejected' else 'migrated' end as outcome,
        case when categorized.product_name is null then 'product_name_missing' end as reason_code,
        case when categorized.product_name is null then 'product_name' end as fault_column
    from categorized
)

select * from classified
