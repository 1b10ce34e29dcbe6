-- One row per legacy user with its outcome: a user whose normalized email another user already has is merged
-- into the lowest legacy id holding that email (rule U1); a username that is only unique in the legacy table
-- before trimming is rejected (rule U2).
with

users as (
    select * from {{ ref('stg_legacy__users') }}
),

ranked as (
    select
        users.*,
        case
            when users.email is null then users.legacy_user_id
            else min(users.legacy_user_id) over (partition by users.email)
        end as surviving_legacy_user_id,
        row_number() over (partition by users.username order by users.legacy_user_id) as username_rank
    from users
),

classified as (
    select
        ranked.*,
        case
            when ranked.surviving_legacy_user_id <> ranked.legacy_user_id then 'merged'
            when ranked.username_rank > 1 then 'rejected'
            else 'migrated'
        end as outcome,
        case
            when ranked.surviving_legacy_user_id <> ranked.legacy_user_id then 'duplicate_email'
            when ranked.username_rank > 1 then 'username_duplicate'
        end as reason_code,
        case
            when ranked.surviving_legacy_user_id <> ranked.legacy_user_id then 'email'
            when ranked.username_rank > 1 then 'username'
        end as fault_column
    from ranked
)

select * from classified
