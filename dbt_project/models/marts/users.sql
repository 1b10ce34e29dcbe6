with

users as (
    select * from {{ ref('int_users_deduplicated') }}
    where outcome = 'migrated'
),

-- Casts to varchar without a width: the contract's table has the target's widths, and inserting a longer value
-- there fails the build, where a cast to varchar(n) would cut it in silence. Rules L1 and L2 keep such values out.
final as (
    select
        users.legacy_user_id::bigint as legacy_user_id,
        users.username::varchar as username,
        (case when not users.is_email_too_long then users.email end)::varchar as email,
        (case when not users.is_full_name_too_long then users.full_name end)::varchar as full_name,
        (case when not users.is_phone_too_long then users.phone end)::varchar as phone,
        users.registered_at::timestamp as registered_at
    from users
)

select * from final
