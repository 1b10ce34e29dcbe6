with

source as (
    select * from {{ source('legacy', 'old_orders') }}
),

cleaned as materialized (
    select
        source.id::bigint as legacy_order_id,
        source.user_identifier_text as user_identifier_raw,
        {{ user_key(clean_text('source.user_identifier_text')) }} as user_identifier_key,
        source.product_name_redundant as product_name_raw,
        {{ spelling_key(clean_text('source.product_name_redundant')) }} as product_name_key,
        source.order_date_str as ordered_at_raw,
        {{ clean_text('source.order_date_str') }} as ordered_at_text,
        source.status_text as status_raw,
        {{ spelling_key(clean_text('source.status_text')) }} as status_key,
        source.quantity,
        source.unit_price_str_redundant as unit_price_raw,
        {{ clean_text('source.unit_price_str_redundant') }} as unit_price_text,
        source.total_order_amount_str as total_raw,
        {{ clean_text('source.total_order_amount_str') }} as total_text,
        to_jsonb(source.*) as legacy_row
    from source
),

parsed as materialized (
    select
        cleaned.*,
        -- Rule O3 compares whole rows but the id; a 16-byte digest keeps that comparison cheap.
        md5((cleaned.legacy_row - 'id')::text)::uuid as legacy_row_digest,
        {{ parse_timestamp('cleaned.ordered_at_text') }} as ordered_at,
        {{ parse_money_amount('cleaned.unit_price_text') }} as unit_price_amount,
        {{ money_reading('cleaned.unit_price_text', 'thousands') }} as unit_price_thousands_reading,
        {{ money_reading('cleaned.unit_price_text', 'decimal') }} as unit_price_decimal_reading,
        {{ parse_money_currency('cleaned.unit_price_text') }} as unit_price_currency,
        {{ parse_money_amount('cleaned.total_text') }} as total_amount_amount,
        {{ money_reading('cleaned.total_text', 'thousands') }} as total_thousands_reading,
        {{ money_reading('cleaned.total_text', 'decimal') }} as total_decimal_reading,
        {{ parse_money_currency('cleaned.total_text') }} as total_currency
    from cleaned
),

final as (
    select
        parsed.legacy_order_id,
        parsed.user_identifier_raw,
        parsed.user_identifier_key,
        parsed.product_name_raw,
        parsed.product_name_key,
        parsed.ordered_at_raw,
        parsed.ordered_at,
        {{ parse_status('parsed.ordered_at_text', 'parsed.ordered_at') }} as ordered_at_status,
        parsed.status_raw,
        parsed.status_key,
        parsed.quantity,
        parsed.unit_price_raw,
        parsed.unit_price_amount as unit_price,
        parsed.unit_price_thousands_reading,
        parsed.unit_price_decimal_reading,
        parsed.unit_price_currency,
        {{
            money_status(
                'parsed.unit_price_text',
                'parsed.unit_price_amount',
                'parsed.unit_price_thousands_reading',
                negative=true
            )
        }} as unit_price_status,
        parsed.total_raw,
        parsed.total_amount_amount as total_amount,
        parsed.total_thousands_reading,
        parsed.total_decimal_reading,
        parsed.total_currency,
        {{ money_status('parsed.total_text', 'parsed.total_amount_amount', 'parsed.total_thousands_reading') }}
            as total_status,
        parsed.legacy_row_digest,
        parsed.legacy_row
    from parsed
)

select * from final
