-- One row per legacy user with its outcome. A row the target cannot key or hold is rejected first: no legacy id,
-- an id the legacy table repeats (every copy: which one is the user cannot be told, rule K1), no username, or a
-- username longer than the target's column (rule L1). Then a username that is only unique in the legacy table
-- before trimming is rejected (rule U2); then, among the users not rejected, one whose normalized email another
-- already has is merged into the lowest legacy id holding that email (rule U1), so nobody is ever merged into a
-- rejected row. An optional value too long for its target column is left out with a warning (rule L2).
with

users as (
    select * from {{ ref('stg_legacy__users') }}
),

keyed as (
    select
        users.*,
        count(*) over (partition by users.legacy_user_id) as times_id_staged
    from users
),

checked as (
    select
        keyed.*,
        case
            when keyed.legacy_user_id is null then 'legacy_id_missing'
            when keyed.times_id_staged > 1 then 'legacy_id_duplicate'
            when keyed.username is null or keyed.username = '' then 'username_missing'
            when length(keyed.username) > {{ contract_width('users', 'username') }} then 'value_too_long'
        end as row_reason_code
    from keyed
),

ranked as (
    select
        checked.*,
        case
            when checked.row_reason_code is null
                then row_number() over (
                        partition by checked.row_reason_code is null, checked.username
                        order by checked.legacy_user_id
                    )
        end as username_rank
    from checked
),

survivors as (
    select
        ranked.*,
        case
            when ranked.username_rank = 1 and ranked.email is not null
                then min(case when ranked.username_rank = 1 then ranked.legacy_user_id end) over (
                        partition by ranked.email
                    )
            else ranked.legacy_user_id
        end as surviving_legacy_user_id
    from ranked
),

classified as (
    select
        survivors.*,
        case
            when survivors.row_reason_code is not null or survivors.username_rank > 1 then 'rejected'
            when survivors.surviving_legacy_user_id <> survivors.legacy_user_id then 'merged'
            else 'migrated'
        end as outcome,
        case
            when survivors.row_reason_code is not null then survivors.row_reason_code
            when survivors.username_rank > 1 then 'username_duplicate'
            when survivors.surviving_legacy_user_id <> survivors.legacy_user_id then 'duplicate_email'
        end as reason_code,
        -- Rule L2: optional values the target's columns cannot hold whole; the marts leave them out.
        coalesce(length(survivors.email) > {{ contract_width('users', 'email') }}, false) as is_email_too_long,
        coalesce(length(survivors.full_name) > {{ contract_width('users', 'full_name') }}, false)
            as is_full_name_too_long,
        coalesce(length(survivors.phone) > {{ contract_width('users', 'phone') }}, false) as is_phone_too_long
    from survivors
)

select * from classified
