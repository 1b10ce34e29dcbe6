-- Each per-row correction (issue 14) and what becomes of it: `applied` while the legacy row still holds the raw
-- value the correction names and the corrected value reads by the column's own rule; `stale` when the row holds
-- another value, is gone, or its id is repeated (rule K1 rejects every copy); `unparseable` when the corrected
-- value does not read. Stale and unparseable corrections change nothing and are reported (quarantine.corrections).
-- The column names of the three legacy tables differ, so the column alone says which rule reads it.
with

corrections as (
    select * from {{ source('legacy', 'corrections') }}
),

users as (
    select * from {{ source('legacy', 'old_users') }}
),

products as (
    select * from {{ source('legacy', 'old_products') }}
),

orders as (
    select * from {{ source('legacy', 'old_orders') }}
),

status_synonyms as (
    select * from {{ mapping_seed('status_synonyms', 'status_spelling', 'status') }} as seed
),

category_synonyms as (
    select * from {{ mapping_seed('category_synonyms', 'category_spelling', 'category') }} as seed
),

currencies as (
    select * from {{ currency_lookup() }} as seed
),

named_ids as (
    select distinct
        corrections.legacy_table,
        corrections.legacy_id
    from corrections
),

-- The legacy rows the corrections name, as they stand now: none for a row that is gone, several for a repeated id.
named_rows as (
    select
        named_ids.legacy_table,
        named_ids.legacy_id,
        to_jsonb(users.*) as legacy_row
    from named_ids
    inner join users
        on named_ids.legacy_table = 'old_users' and named_ids.legacy_id = users.id
    union all
    select
        named_ids.legacy_table,
        named_ids.legacy_id,
        to_jsonb(products.*) as legacy_row
    from named_ids
    inner join products
        on named_ids.legacy_table = 'old_products' and named_ids.legacy_id = products.id
    union all
    select
        named_ids.legacy_table,
        named_ids.legacy_id,
        to_jsonb(orders.*) as legacy_row
    from named_ids
    inner join orders
        on named_ids.legacy_table = 'old_orders' and named_ids.legacy_id = orders.id
),

rows_by_id as (
    select
        named_rows.legacy_table,
        named_rows.legacy_id,
        count(*) as legacy_rows,
        -- The row, where one holds the id; a repeated id's copies may differ, and none is the one corrected.
        case when count(*) = 1 then (array_agg(named_rows.legacy_row))[1] end as legacy_row
    from named_rows
    group by named_rows.legacy_table, named_rows.legacy_id
),

located as (
    select
        corrections.*,
        coalesce(rows_by_id.legacy_rows, 0) as legacy_rows,
        rows_by_id.legacy_row,
        rows_by_id.legacy_row ->> corrections.column_name as legacy_value,
        {{ clean_text('corrections.corrected_value') }} as corrected_text
    from corrections
    left join rows_by_id
        on
            corrections.legacy_table = rows_by_id.legacy_table
            and corrections.legacy_id = rows_by_id.legacy_id
),

-- The corrected value through the first steps of the column's rule (C1, M1, M2, S1), as the staging models read them.
split as (
    select
        located.*,
        {{ money_amount_text('located.corrected_text') }} as amount_text,
        {{ mapping_key('located.corrected_text') }} as spelling_key
    from located
),

money as (
    select
        split.*,
        {{ money_digits('split.corrected_text', 'split.amount_text') }} as money_digits,
        {{ money_currency_key('split.corrected_text', 'split.amount_text') }} as money_currency_key
    from split
),

looked_up as (
    select
        money.*,
        {{
            money_status(
                'money.corrected_text',
                parse_money_amount('money.corrected_text', 'money.money_digits'),
                money_reading('money.money_digits', 'thousands'),
                money_currency_status('money.money_currency_key', money_currency('money.money_currency_key', 'currencies')),
                negative=true
            )
        }} as money_status,
        status_synonyms.status,
        category_synonyms.category
    from money
    left join currencies
        on money.money_currency_key = currencies.currency_key
    left join status_synonyms
        on money.column_name = 'status_text' and money.spelling_key = status_synonyms.spelling_key
    left join category_synonyms
        on money.column_name = 'category_name_redundant' and money.spelling_key = category_synonyms.spelling_key
),

-- Whether the corrected value reads: a date by T1-T5, an amount by M1-M3 as one non-negative amount in a known
-- currency (not ambiguous: a person writes it one way), a status or category by its seed, a quantity as an integer,
-- an email by E2, a name or reference as any text that is not blank; the free texts (a full name, a description,
-- an address, a phone) read whatever they hold, NULL included.
checked as (
    select
        looked_up.*,
        case
            when looked_up.column_name in ('registration_date_str', 'created_at_str', 'order_date_str')
                then {{ parse_timestamp('looked_up.corrected_text') }} is not null
            when looked_up.column_name in ('price_str', 'unit_price_str_redundant', 'total_order_amount_str')
                then looked_up.money_status = 'ok'
            when looked_up.column_name = 'status_text' then looked_up.status is not null
            when looked_up.column_name = 'category_name_redundant' then looked_up.category is not null
            when looked_up.column_name = 'quantity' then coalesce(looked_up.corrected_text ~ '^[+-]?[0-9]{1,9}$', false)
            when looked_up.column_name = 'email'
                then
                    looked_up.corrected_text is not null
                    and {{ is_valid_email(normalize_email('looked_up.corrected_text')) }}
            when looked_up.column_name in ('username', 'product_name', 'user_identifier_text', 'product_name_redundant')
                then looked_up.corrected_text is not null
            else true
        end as corrected_value_reads
    from looked_up
),

final as (
    select
        checked.legacy_table,
        checked.legacy_id,
        checked.column_name,
        checked.raw_value,
        checked.corrected_value,
        checked.note,
        checked.author,
        checked.source_file,
        checked.line,
        checked.legacy_rows,
        checked.legacy_value,
        case
            when checked.legacy_rows <> 1 or (checked.legacy_value is distinct from checked.raw_value) then 'stale'
            when not checked.corrected_value_reads then 'unparseable'
            else 'applied'
        end as correction_status,
        -- The value the staging model reads instead, typed as the legacy column (a quantity is a number).
        case
            when checked.column_name = 'quantity' and checked.corrected_value_reads
                then to_jsonb(checked.corrected_text::integer)
            else to_jsonb(checked.corrected_value)
        end as corrected_json,
        checked.legacy_row
    from checked
)

select * from final
