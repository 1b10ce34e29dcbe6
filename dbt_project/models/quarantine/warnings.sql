-- Migrated rows that needed a repair: a value that could not be read and became null, a phone kept as written,
-- a total recomputed from quantity and unit price. One row per repair, in the same shape as rejects.
with

users as (
    select * from {{ ref('int_users_deduplicated') }}
    where outcome = 'migrated'
),

country_names as (
    select * from {{ ref('country_names') }}
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
        users.legacy_row
    from users
    left join country_names
        on users.address_country_key = country_names.country_spelling
    cross join
        lateral (
            values
            (case when users.email_status = 'invalid' then 'email_invalid' end, 'email'),
            (
                case when users.registered_at_status = 'invalid' then 'registration_date_invalid' end,
                'registration_date_str'
            ),
            (case when users.phone_status = 'kept_raw' then 'phone_not_normalized' end, 'phone_number_str'),
            (
                case when users.address_status = 'not_split' then 'address_not_split' end,
                'address_combined'
            ),
            (
                case
                    when users.address_country_key is not null and country_names.country is null
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
        products.legacy_row
    from products
    cross join
        lateral (
            values
            (case when products.price_status = 'invalid' then 'price_invalid' end, 'price_str'),
            (case when products.price_status = 'negative' then 'price_negative' end, 'price_str'),
            (case when products.created_at_status = 'invalid' then 'created_date_invalid' end, 'created_at_str'),
            (
                case
                    when products.category_key is not null and products.category is null then 'category_unknown'
                end,
                'category_name_redundant'
            )
        ) as repairs (reason_code, column_name)
    where repairs.reason_code is not null
),

order_repairs as (
    select
        'old_orders' as legacy_table,
        orders.legacy_order_id as legacy_id,
        repairs.reason_code,
        'total_order_amount_str' as column_name,
        orders.legacy_row
    from orders
    cross join
        lateral (
            values (
                case
                    when orders.total_status = 'missing' then 'total_missing'
                    when orders.total_status = 'invalid' then 'total_unreadable'
                    when
                        orders.total_amount <> orders.computed_total
                        or orders.total_currency <> orders.unit_price_currency
                        then 'total_mismatch'
                end
            )
        ) as repairs (reason_code)
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
        unioned.legacy_id,
        'warning' as outcome,
        'transform' as stage,
        unioned.reason_code,
        unioned.column_name,
        unioned.legacy_row ->> unioned.column_name as raw_value,
        null::integer as merged_into_legacy_id,
        unioned.legacy_row
    from unioned
)

select * from final
