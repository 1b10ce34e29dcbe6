-- Migrated rows that needed a repair: a value that could not be read and became null, a phone kept as written,
-- a total recomputed from quantity and unit price (for a mismatch, both totals in `evidence`, rule O5), a value too
-- long for the target left out (rule L2), an ambiguous amount read the way the evidence agrees with (rule M4, the
-- evidence in `evidence`), an order dated before its user registered (rule O7, the user and the registration date
-- in `evidence`). One row per repair, in the same shape as rejects.
with

users as (
    select * from {{ ref('int_users_deduplicated') }}
    where outcome = 'migrated'
),

country_names as (
    select * from {{ mapping_seed('country_names', 'country_spelling', 'country_code') }} as seed
),

products as (
    select * from {{ ref('int_products_classified') }}
    where outcome = 'migrated'
),

orders as (
    select * from {{ ref('int_orders_resolved') }}
    where outcome = 'migrated'
),

user_repairs as (
    select
        'old_users' as legacy_table,
        users.legacy_user_id as legacy_id,
        repairs.reason_code,
        repairs.column_name,
        null::jsonb as evidence,
        users.legacy_row
    from users
    left join country_names
        on users.address_country_key = country_names.spelling_key
    cross join
        lateral (
            values
            (case when users.email_status = 'invalid' then 'email_invalid' end, 'email'),
            (case when users.is_email_too_long then 'value_too_long' end, 'email'),
            (case when users.is_full_name_too_long then 'value_too_long' end, 'full_name'),
            (
                case when users.registered_at_status = 'invalid' then 'registration_date_invalid' end,
                'registration_date_str'
            ),
            (case when users.phone_status = 'kept_raw' then 'phone_not_normalized' end, 'phone_number_str'),
            (case when users.is_phone_too_long then 'value_too_long' end, 'phone_number_str'),
            (
                case when users.address_status = 'not_split' then 'address_not_split' end,
                'address_combined'
            ),
            (
                case
                    when users.address_country_key is not null and country_names.country_code is null
                        then 'country_unknown'
                end,
                'address_combined'
            )
        ) as repairs (reason_code, column_name)
    where repairs.reason_code is not null
),

product_repairs as (
    select
        'old_products' as legacy_table,
        products.legacy_product_id as legacy_id,
        repairs.reason_code,
        repairs.column_name,
        repairs.evidence,
        products.legacy_row
    from products
    cross join
        lateral (
            values
            (case when products.price_status = 'invalid' then 'price_invalid' end, 'price_str', null::jsonb),
            (case when products.price_status = 'negative' then 'price_negative' end, 'price_str', null::jsonb),
            (case when products.price_status = 'ambiguous' then 'amount_ambiguous' end, 'price_str', null::jsonb),
            (
                -- Rule M2: a bare price is in the legacy currency, an inference the ledger records.
                case
                    when products.price is not null and products.price_currency_status = 'bare'
                        then 'currency_assumed'
                end,
                'price_str',
                {{ currency_assumed_evidence('products.currency') }}
            ),
            (
                case when products.created_at_status = 'invalid' then 'created_date_invalid' end,
                'created_at_str',
                null::jsonb
            ),
            (
                case
                    when products.category_key is not null and products.category is null then 'category_unknown'
                end,
                'category_name_redundant',
                null::jsonb
            )
        ) as repairs (reason_code, column_name, evidence)
    where repairs.reason_code is not null
),

order_repairs as (
    select
        'old_orders' as legacy_table,
        orders.legacy_order_id as legacy_id,
        repairs.reason_code,
        repairs.column_name,
        -- Built here, for the repairs found, not as a third value of each candidate below: that built five JSON
        -- objects for every migrated order, most of them thrown away, and cost more than the rest of the model.
        case
            when repairs.reason_code = 'amount_disambiguated' and repairs.column_name = 'unit_price_str_redundant'
                then jsonb_build_object(
                        'read_as', orders.resolved_unit_price::text,
                        'legacy_product_id', orders.legacy_product_id,
                        'product_price', orders.product_price::text,
                        'product_currency', orders.product_currency
                    )
            when repairs.reason_code = 'currency_from_product'
                then jsonb_build_object(
                        'currency', orders.order_currency,
                        'legacy_product_id', orders.legacy_product_id,
                        'product_price', orders.product_price_raw
                    )
            when repairs.reason_code = 'currency_assumed' then {{ currency_assumed_evidence('orders.order_currency') }}
            when repairs.reason_code = 'order_before_registration' then {{ registration_evidence('orders') }}
            when repairs.reason_code in ('total_missing', 'total_unreadable') then null
            when repairs.reason_code = 'amount_disambiguated'
                then jsonb_build_object(
                        'read_as', orders.agreed_total::text,
                        'quantity', orders.quantity,
                        'unit_price', orders.resolved_unit_price::text
                    )
            -- Rule O5, total_mismatch: the total as read (NULL where it reads two ways) and in the currency it
            -- names (NULL where bare), and the total kept, in the order's currency.
            when repairs.reason_code = 'total_mismatch'
                then jsonb_build_object(
                        'total_read', orders.total_amount::text,
                        'total_currency', orders.total_currency,
                        'computed_total', orders.computed_total::text,
                        'currency', orders.order_currency
                    )
        end as evidence,
        orders.legacy_row
    from orders
    cross join
        lateral (
            values
            (
                case when orders.unit_price_status = 'ambiguous' then 'amount_disambiguated' end,
                'unit_price_str_redundant'
            ),
            -- Rule M2: a bare unit price in the currency its product's price names.
            (
                case when orders.order_currency_source = 'product' then 'currency_from_product' end,
                'unit_price_str_redundant'
            ),
            -- Rule M2: a bare unit price whose product names no currency is in the legacy currency.
            (
                case when orders.order_currency_source = 'assumed' then 'currency_assumed' end,
                'unit_price_str_redundant'
            ),
            -- Rule O7: the order is the business fact; the evidence names the registration it contradicts.
            (
                case when orders.is_dated_before_registration then 'order_before_registration' end,
                'order_date_str'
            ),
            (
                case
                    when orders.total_status = 'missing' then 'total_missing'
                    when orders.total_status = 'invalid' then 'total_unreadable'
                    when orders.total_status = 'ambiguous' and orders.agreed_total is not null
                        then 'amount_disambiguated'
                    -- Ambiguous, and neither reading is quantity times unit price: it disagrees either way.
                    when orders.total_status = 'ambiguous' then 'total_mismatch'
                    when
                        orders.total_amount <> orders.computed_total
                        -- Rule M2: a bare total is compared in the order's currency, so it never differs.
                        or orders.total_currency <> orders.order_currency
                        then 'total_mismatch'
                end,
                'total_order_amount_str'
            )
        ) as repairs (reason_code, column_name)
    where repairs.reason_code is not null
),

unioned as (
    select * from user_repairs
    union all
    select * from product_repairs
    union all
    select * from order_repairs
),

final as (
    select
        unioned.legacy_table,
        unioned.legacy_id::bigint as legacy_id,
        'warning' as outcome,
        'transform' as stage,
        unioned.reason_code,
        unioned.column_name,
        found.legacy_row ->> unioned.column_name as raw_value,
        null::bigint as merged_into_legacy_id,
        unioned.evidence,
        found.legacy_row
    from unioned
    {{ quarantine_legacy_row('unioned') }}
)

select * from final
