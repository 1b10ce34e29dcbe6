with

source as (
    select * from {{ source('legacy', 'old_users') }}
),

cleaned as (
    select
        source.id as legacy_user_id,
        btrim(source.username) as username,
        source.email as email_raw,
        {{ clean_text('source.email') }} as email_text,
        {{ clean_text('source.full_name') }} as full_name_text,
        source.registration_date_str as registered_at_raw,
        {{ clean_text('source.registration_date_str') }} as registered_at_text,
        {{ clean_text('source.address_combined') }} as address_text,
        source.phone_number_str as phone_raw,
        {{ clean_text('source.phone_number_str') }} as phone_text,
        to_jsonb(source) as legacy_row
    from source
),

parsed as (
    select
        cleaned.*,
        {{ normalize_email('cleaned.email_text') }} as email_normalized,
        {{ tidy_name('cleaned.full_name_text') }} as full_name,
        {{ parse_timestamp('cleaned.registered_at_text') }} as registered_at,
        {{ normalize_phone('cleaned.phone_text') }} as phone_e164
    from cleaned
),

final as (
    select
        parsed.legacy_user_id,
        parsed.username,
        parsed.email_raw,
        case when {{ is_valid_email('parsed.email_normalized') }} then parsed.email_normalized end as email,
        case
            when parsed.email_text is null then 'missing'
            when {{ is_valid_email('parsed.email_normalized') }} then 'ok'
            else 'invalid'
        end as email_status,
        parsed.full_name,
        parsed.registered_at_raw,
        parsed.registered_at,
        case
            when parsed.registered_at_text is null then 'missing'
            when parsed.registered_at is null then 'invalid'
            else 'ok'
        end as registered_at_status,
        parsed.address_text as address_raw,
        {{ address_part('parsed.address_text', 'street') }} as address_street,
        {{ address_part('parsed.address_text', 'city') }} as address_city,
        {{ address_part('parsed.address_text', 'state') }} as address_state,
        {{ address_part('parsed.address_text', 'postal_code') }} as address_postal_code,
        {{ spelling_key(address_part('parsed.address_text', 'country')) }} as address_country_key,
        parsed.phone_raw,
        coalesce(parsed.phone_e164, parsed.phone_text) as phone,
        case
            when parsed.phone_text is null then 'missing'
            when parsed.phone_e164 is null then 'kept_raw'
            else 'ok'
        end as phone_status,
        parsed.legacy_row
    from parsed
)

select * from final
