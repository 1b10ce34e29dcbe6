-- Every legacy row that is not migrated, exactly once: rejected with a reason, or merged into another row.
-- The raw value at fault and the whole legacy row travel with it, so the ledger can answer for any legacy id (a
-- row rejected for having no id, rule K1, has a NULL legacy_id; one whose id the legacy table repeats is here once
-- per copy). `evidence`: what an ambiguous amount was compared with, where rule M4 found it agreeing with nothing;
-- with the var strict_dates, the registration an order's date is before (rule O7); for a merge, the survivor and
-- what matched (U1, O3); for an ambiguous user or product, the candidate legacy ids (O1, O2).
with

users as (
    select * from {{ ref('int_users_deduplicated') }}
    where outcome <> 'migrated'
),

products as (
    select * from {{ ref('int_products_classified') }}
    where outcome <> 'migrated'
),

orders as (
    select * from {{ ref('int_orders_resolved') }}
    where outcome <> 'migrated'
),

reason_codes as (
    select * from {{ ref('reason_codes') }}
),

unioned as (
    select
        'old_users' as legacy_table,
        users.legacy_user_id as legacy_id,
        users.outcome,
        users.reason_code,
        -- For a code the reason_codes seed names no column for: a user is rejected for its username only (L1).
        'username' as unnamed_column,
        case when users.outcome = 'merged' then users.surviving_legacy_user_id end as merged_into_legacy_id,
        -- Rule U1: the survivor and the normalized email both users have.
        case
            when users.outcome = 'merged'
                then jsonb_build_object(
                        'survivor_legacy_id', users.surviving_legacy_user_id,
                        'matched_on', 'email',
                        'key', users.email
                    )
        end as evidence,
        users.legacy_row
    from users
    union all
    select
        'old_products' as legacy_table,
        products.legacy_product_id as legacy_id,
        products.outcome,
        products.reason_code,
        -- For a code the reason_codes seed names no column for: a product is rejected for its name only (L1).
        'product_name' as unnamed_column,
        null::bigint as merged_into_legacy_id,
        null::jsonb as evidence,
        products.legacy_row
    from products
    union all
    select
        'old_orders' as legacy_table,
        orders.legacy_order_id as legacy_id,
        orders.outcome,
        orders.reason_code,
        -- For a code the reason_codes seed names no column for: amount_ambiguous, here the unit price's (M4).
        'unit_price_str_redundant' as unnamed_column,
        case when orders.outcome = 'merged' then orders.first_legacy_order_id end as merged_into_legacy_id,
        case
            when orders.reason_code = 'amount_ambiguous'
                then jsonb_build_object(
                        'legacy_product_id', orders.legacy_product_id,
                        'product_price', orders.product_price::text,
                        'product_currency', orders.product_currency
                    )
            when orders.reason_code = 'order_before_registration' then {{ registration_evidence('orders') }}
            -- Rule O3: the survivor, equal in every legacy column but the id (the key is the whole row).
            when orders.reason_code = 'duplicate_order'
                then jsonb_build_object(
                        'survivor_legacy_id', orders.first_legacy_order_id,
                        'matched_on', 'every_column_but_id'
                    )
            -- Rules O1, O2: the legacy ids the reference could mean, sorted.
            when orders.reason_code = 'user_ambiguous'
                then jsonb_build_object('candidates', orders.user_candidate_legacy_ids)
            when orders.reason_code = 'product_ambiguous'
                then jsonb_build_object('candidates', orders.product_candidate_legacy_ids)
        end as evidence,
        orders.legacy_row
    from orders
),

located as (
    -- The legacy column at fault: the one the reason_codes seed names for the code, else the branch's own (the
    -- seed names none for a code about several columns: value_too_long, amount_ambiguous).
    select
        unioned.*,
        coalesce(reason_codes.legacy_column, unioned.unnamed_column) as column_name
    from unioned
    left join reason_codes
        on unioned.reason_code = reason_codes.code
),

final as (
    select
        located.legacy_table,
        located.legacy_id::bigint as legacy_id,
        located.outcome,
        'transform' as stage,
        located.reason_code,
        located.column_name,
        found.legacy_row ->> located.column_name as raw_value,
        located.merged_into_legacy_id::bigint as merged_into_legacy_id,
        located.evidence,
        found.legacy_row
    from located
    {{ quarantine_legacy_row('located') }}
)

select * from final
