-- One row per legacy order: its user and product resolved, its status mapped, and its outcome classified.
-- Rules (docs/cleaning-rules.md): a user is found by username, then by email, ignoring case and spaces (O1);
-- a product by its name, ignoring case and spaces, and where several products share the name, by the order's
-- unit price (O2); a reference that matches more than one row is rejected, never guessed. A row without a legacy id,
-- or with one the legacy table repeats, is rejected before anything else (K1). An ambiguous unit price or total
-- takes the reading the evidence agrees with: the product's price, quantity times unit price (M4). An order dated
-- before its user registered migrates, flagged for a warning (O7); the var strict_dates rejects it instead. A bare
-- unit price takes the currency its product's price names, else the legacy currency, each with a warning (M2).
{%- set strict_dates = 'true' if var('strict_dates', false) | string | lower in ('true', '1', 'yes') else 'false' %}
with

staged_orders as (
    select * from {{ ref('stg_legacy__orders') }}
),

users as (
    select * from {{ ref('int_users_deduplicated') }}
    where outcome <> 'rejected'
),

products as (
    select * from {{ ref('int_products_classified') }}
    where outcome = 'migrated'
),

status_synonyms as (
    select * from {{ mapping_seed('status_synonyms', 'status_spelling', 'status') }} as seed
),

snapshot as (
    select * from {{ ref('stg_legacy__snapshot') }}
),

user_keys as (
    select
        users.username_key as user_key,
        'username' as matched_by,
        users.surviving_legacy_user_id
    from users
    union all
    select
        users.email as user_key,
        'email' as matched_by,
        users.surviving_legacy_user_id
    from users
    where users.email is not null
),

user_candidates as (
    select
        user_keys.user_key,
        user_keys.matched_by,
        count(distinct user_keys.surviving_legacy_user_id) as match_count,
        min(user_keys.surviving_legacy_user_id) as legacy_user_id,
        -- The users the key names, for an ambiguous reference's evidence (O1).
        jsonb_agg(
            distinct user_keys.surviving_legacy_user_id order by user_keys.surviving_legacy_user_id
        ) as candidate_legacy_ids
    from user_keys
    group by user_keys.user_key, user_keys.matched_by
),

orders as (
    select
        staged_orders.*,
        count(*) over (partition by staged_orders.legacy_order_id) as times_id_staged
    from staged_orders
),

product_names as (
    select
        products.product_name_key,
        count(*) as match_count,
        min(products.legacy_product_id) as legacy_product_id,
        -- The products the name names, for an ambiguous reference's evidence (O2).
        jsonb_agg(products.legacy_product_id order by products.legacy_product_id) as candidate_legacy_ids
    from products
    group by products.product_name_key
),

orders_with_user as (
    select
        orders.*,
        coalesce(by_username.match_count, by_email.match_count, 0) as user_match_count,
        coalesce(by_username.legacy_user_id, by_email.legacy_user_id) as legacy_user_id,
        coalesce(by_username.candidate_legacy_ids, by_email.candidate_legacy_ids) as user_candidate_legacy_ids,
        case
            when by_username.user_key is not null then 'username'
            when by_email.user_key is not null then 'email'
        end as user_matched_by
    from orders
    left join user_candidates as by_username
        on
            orders.user_identifier_key = by_username.user_key
            and by_username.matched_by = 'username'
    left join user_candidates as by_email
        on
            orders.user_identifier_key = by_email.user_key
            and by_email.matched_by = 'email'
),

price_matches as (
    select
        orders.legacy_order_id,
        count(*) as match_count,
        min(products.legacy_product_id) as legacy_product_id
    from orders
    inner join product_names
        on orders.product_name_key = product_names.product_name_key
    inner join products
        on
            orders.product_name_key = products.product_name_key
            -- Rule M2: a bare unit price matches by amount alone; a named one by amount and currency.
            and (orders.unit_price_currency is null or orders.unit_price_currency = products.currency)
            -- Rule M4: an ambiguous unit price matches a product's price by either reading.
            and products.price in (
                orders.unit_price, orders.unit_price_thousands_reading, orders.unit_price_decimal_reading
            )
    where product_names.match_count > 1
    group by orders.legacy_order_id
),

orders_with_product as (
    select
        orders_with_user.*,
        coalesce(product_names.match_count, 0) as product_name_match_count,
        product_names.candidate_legacy_ids as product_candidate_legacy_ids,
        case
            when product_names.match_count = 1 then product_names.legacy_product_id
            when price_matches.match_count = 1 then price_matches.legacy_product_id
        end as legacy_product_id,
        case
            when product_names.match_count = 1 then 'name'
            when price_matches.match_count = 1 then 'name_and_price'
        end as product_matched_by,
        status_synonyms.status,
        resolved_user.registered_at as user_registered_at,
        snapshot.snapshot_taken_at
    from orders_with_user
    left join product_names
        on orders_with_user.product_name_key = product_names.product_name_key
    left join price_matches
        on orders_with_user.legacy_order_id = price_matches.legacy_order_id
    left join status_synonyms
        on orders_with_user.status_key = status_synonyms.spelling_key
    left join users as resolved_user
        on orders_with_user.legacy_user_id = resolved_user.legacy_user_id
    left join snapshot on true
),

orders_currency as (
    -- Rule M2: the currency the unit price names; for a bare one, the currency its product's price names (even
    -- where that price is unreadable as an amount), else the legacy currency. The source says which, for a warning.
    -- A product's price that names a currency M2 cannot read is evidence against the legacy currency: no currency.
    select
        orders_with_product.*,
        resolved_product.price as product_price,
        resolved_product.currency as product_currency,
        resolved_product.price_raw as product_price_raw,
        case
            when orders_with_product.unit_price_currency is not null then orders_with_product.unit_price_currency
            when resolved_product.price_currency_status = 'unknown' then null
            else coalesce(resolved_product.price_currency_named, '{{ legacy_currency() }}')
        end as order_currency,
        case
            when orders_with_product.unit_price_currency is not null then 'read'
            when resolved_product.price_currency_status = 'unknown' then 'unknown'
            when resolved_product.price_currency_named is not null then 'product'
            else 'assumed'
        end as order_currency_source
    from orders_with_product
    left join products as resolved_product
        on orders_with_product.legacy_product_id = resolved_product.legacy_product_id
),

orders_priced as (
    -- Rule M4: an ambiguous unit price takes the reading equal to the resolved product's price and currency.
    select
        orders_currency.*,
        coalesce(
            orders_currency.unit_price,
            {{
                money_agreeing_reading(
                    'orders_currency.unit_price_thousands_reading',
                    'orders_currency.unit_price_decimal_reading',
                    'orders_currency.order_currency',
                    'orders_currency.product_price',
                    'orders_currency.product_currency'
                )
            }}
        ) as resolved_unit_price
    from orders_currency
),

first_of_duplicates as (
    -- A double submit repeats every legacy column but the id: the first id stands for all (rule O3). Only rows
    -- with an id of their own take part, so nothing is merged into a row rejected for its id (rule K1).
    select
        orders.legacy_row_digest,
        min(orders.legacy_order_id) as first_legacy_order_id
    from orders
    where orders.times_id_staged = 1 and orders.legacy_order_id is not null
    group by orders.legacy_row_digest
),

duplicates_marked as (
    select
        orders_priced.*,
        first_of_duplicates.first_legacy_order_id
    from orders_priced
    left join first_of_duplicates
        on orders_priced.legacy_row_digest = first_of_duplicates.legacy_row_digest
),

dated as (
    -- Rule O7: compared by day, as many legacy dates carry no time; unknown when either date is.
    select
        duplicates_marked.*,
        coalesce(
            duplicates_marked.ordered_at::date < duplicates_marked.user_registered_at::date, false
        ) as is_dated_before_registration
    from duplicates_marked
),

classified as (
    select
        dated.*,
        case
            when dated.legacy_order_id is null then 'legacy_id_missing'
            when dated.times_id_staged > 1 then 'legacy_id_duplicate'
            when dated.first_legacy_order_id <> dated.legacy_order_id
                then 'duplicate_order'
            when dated.user_identifier_key is null or dated.user_identifier_key = ''
                then 'user_missing'
            when dated.user_match_count = 0 then 'user_not_found'
            when dated.user_match_count > 1 then 'user_ambiguous'
            when dated.product_name_key is null or dated.product_name_key = ''
                then 'product_missing'
            when dated.product_name_match_count = 0 then 'product_not_found'
            when dated.legacy_product_id is null then 'product_ambiguous'
            when dated.ordered_at_status = 'missing' then 'order_date_missing'
            when dated.ordered_at_status = 'invalid' then 'order_date_invalid'
            when dated.ordered_at > dated.snapshot_taken_at then 'order_date_in_future'
            -- Rule O7 with strict_dates: an order dated before its user registered is rejected.
            when {{ strict_dates }} and dated.is_dated_before_registration then 'order_before_registration'
            when dated.quantity is null then 'quantity_missing'
            when dated.quantity <= 0 then 'quantity_not_positive'
            when dated.quantity > {{ var('max_order_quantity') }} then 'quantity_implausible'
            when dated.status is null then 'status_unknown'
            when dated.unit_price_status = 'missing' then 'unit_price_missing'
            when dated.unit_price_status in ('invalid', 'negative') then 'unit_price_invalid'
            when dated.order_currency_source = 'unknown' then 'unit_price_currency_unknown'
            when dated.resolved_unit_price is null then 'amount_ambiguous'
        end as reason_code
    from dated
),

totalled as (
    select
        classified.*,
        classified.quantity * classified.resolved_unit_price as computed_total
    from classified
),

final as (
    select
        totalled.*,
        case
            when totalled.reason_code is null then 'migrated'
            when totalled.reason_code = 'duplicate_order' then 'merged'
            else 'rejected'
        end as outcome,
        -- Rule M4 on the total: the reading equal to quantity times unit price (O5 compares with it).
        {{
            money_agreeing_reading(
                'totalled.total_thousands_reading',
                'totalled.total_decimal_reading',
                'coalesce(totalled.total_currency, totalled.order_currency)',
                'totalled.computed_total',
                'totalled.order_currency'
            )
        }} as agreed_total
    from totalled
)

select * from final
