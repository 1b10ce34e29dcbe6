with

users as (
    select * from {{ ref('int_users_deduplicated') }}
    where outcome = 'migrated'
),

final as (
    select
        users.legacy_user_id::integer as legacy_user_id,
        users.username::varchar(50) as username,
        users.email::varchar(100) as email,
        users.full_name::varchar(100) as full_name,
        users.phone::varchar(32) as phone,
        users.registered_at::timestamp as registered_at
    from users
)

select * from final
