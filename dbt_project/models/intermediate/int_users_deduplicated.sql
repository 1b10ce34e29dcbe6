-- One row per legacy user with its outcome. A username that is only unique in the legacy table before trimming
-- is rejected (rule U2); then, among the users not rejected, one whose normalized email another already has is
-- merged into the lowest legacy id holding that email (rule U1), so nobody is ever merged into a rejected row.
with

users as (
    select * from {{ ref('stg_legacy__users') }}
),

ranked as (
    select
        users.*,
        row_number() over (partition by users.username order by users.legacy_user_id) as username_rank
    from users
),

survivors as (
    select
        ranked.*,
        case
            when ranked.username_rank > 1 or ranked.email is null then ranked.legacy_user_id
            else min(case when ranked.username_rank = 1 then ranked.legacy_user_id end) over (
                    partition by ranked.email
                )
        end as surviving_legacy_user_id
    from ranked
),

classified as (
    select
        survivors.*,
        case
            when survivors.username_rank > 1 then 'rejected'
            when survivors.surviving_legacy_user_id <> survivors.legacy_user_id then 'merged'
            else 'migrated'
        end as outcome,
        case
            when survivors.username_rank > 1 then 'username_duplicate'
            when survivors.surviving_legacy_user_id <> survivors.legacy_user_id then 'duplicate_email'
        end as reason_code,
        case
            when survivors.username_rank > 1 then 'username'
            when survivors.surviving_legacy_user_id <> survivors.legacy_user_id then 'email'
        end as fault_column
    from survivors
)

select * from classified
