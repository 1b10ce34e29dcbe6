with

users as (
    select * from {{ ref('int_users_deduplicated') }}
    where outcome = 'migrated' and address_status <> 'missing'
),

country_names as (
    select * from {{ mapping_seed('country_names', 'country_spelling', 'country_code') }} as seed
),

final as (
    select
        users.legacy_user_id::bigint as legacy_user_id,
        users.address_street::text as street,
        users.address_city::text as city,
        users.address_state::varchar as state,
        users.address_postal_code::varchar as postal_code,
        -- Rule A1: the country as written, for audit, and its ISO 3166-1 alpha-2 code where the seed knows the
        -- spelling; a country it does not know keeps its text, with a null code and the warning country_unknown.
        users.address_country_text::text as country,
        country_names.country_code::varchar as country_code,
        users.address_raw::text as address_raw
    from users
    left join country_names
        on users.address_country_key = country_names.spelling_key
)

select * from final
