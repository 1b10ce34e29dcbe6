with

source as (
    select * from {{ source('legacy', 'old_products') }}
),

cleaned as materialized (
    select
        source.id::bigint as legacy_product_id,
        {{ clean_text('source.product_name') }} as product_name,
        {{ clean_text('source.description') }} as description,
        source.price_str as price_raw,
        {{ clean_text('source.price_str') }} as price_text,
        source.category_name_redundant as category_raw,
        {{ spelling_key(clean_text('source.category_name_redundant')) }} as category_key,
        source.created_at_str as created_at_raw,
        {{ clean_text('source.created_at_str') }} as created_at_text,
        to_jsonb(source.*) as legacy_row
    from source
),

parsed as materialized (
    select
        cleaned.*,
        {{ parse_money_amount('cleaned.price_text') }} as price_amount,
        {{ money_reading('cleaned.price_text', 'thousands') }} as price_thousands_reading,
        {{ parse_money_currency('cleaned.price_text') }} as price_currency,
        {{ parse_timestamp('cleaned.created_at_text') }} as created_at
    from cleaned
),

final as (
    select
        parsed.legacy_product_id,
        parsed.product_name,
        {{ spelling_key('parsed.product_name') }} as product_name_key,
        parsed.description,
        parsed.price_raw,
        case when parsed.price_amount >= 0 then parsed.price_amount end as price,
        case when parsed.price_amount >= 0 then parsed.price_currency end as currency,
        {{
            money_status('parsed.price_text', 'parsed.price_amount', 'parsed.price_thousands_reading', negative=true)
        }} as price_status,
        parsed.category_raw,
        parsed.category_key,
        parsed.created_at_raw,
        parsed.created_at,
        {{ parse_status('parsed.created_at_text', 'parsed.created_at') }} as created_at_status,
        parsed.legacy_row
    from parsed
)

select * from final
