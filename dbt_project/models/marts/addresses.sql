with

users as (
    select * from {{ ref('int_users_deduplicated') }}
    where outcome = 'migrated' and address_status <> 'missing'
),

country_names as (
    select * from {{ ref('country_names') }}
),

final as (
    select
        users.legacy_user_id::bigint as legacy_user_id,
        users.address_street::text as street,
        users.address_city::text as city,
        users.address_state::varchar as state,
        users.address_postal_code::varchar as postal_code,
        -- A country no mapping knows is kept as written (with a warning), never dropped.
        coalesce(country_names.country, users.address_country_text)::text as country,
        users.address_raw::text as address_raw
    from users
    left join country_names
        on users.address_country_key = country_names.country_spelling
)

select * from final
