-- One row per legacy product with its canonical category and outcome. A row the target cannot key is rejected
-- (rule K1: no legacy id, or one the legacy table repeats, every copy); so is a product without a name (rule R1)
-- or with a name longer than the target's column (rule L1). An unreadable or ambiguous price or an unreadable
-- date is migrated as null with a warning (see the warnings model).
with

products as (
    select * from {{ ref('stg_legacy__products') }}
),

category_synonyms as (
    select * from {{ mapping_seed('category_synonyms', 'category_spelling', 'category') }} as seed
),

categorized as (
    select
        products.*,
        category_synonyms.category,
        count(*) over (partition by products.legacy_product_id) as times_id_staged
    from products
    left join category_synonyms
        on products.category_key = category_synonyms.spelling_key
),

checked as (
    select
        categorized.*,
        case
            when categorized.legacy_product_id is null then 'legacy_id_missing'
            when categorized.times_id_staged > 1 then 'legacy_id_duplicate'
            when categorized.product_name is null then 'product_name_missing'
            when length(categorized.product_name) > {{ contract_width('products', 'name') }} then 'value_too_long'
        end as reason_code
    from categorized
),

classified as (
    select
        checked.*,
        case when checked.reason_code is null then 'migrated' else 'rejected' end as outcome
    from checked
)

select * from classified
