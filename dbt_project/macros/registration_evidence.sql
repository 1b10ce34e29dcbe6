{#
    What rule O7 compared an order's date with, as the ledger's evidence: the legacy id of the user the order
    resolved to and that user's registration day (the day the comparison reads), written YYYY-MM-DD by to_char:
    `::date::text` follows the session's DateStyle (04/03/2021 under 'SQL, DMY'), ISO today only because dbt's
    driver, psycopg2, sets it.
#}
{% macro registration_evidence(orders) -%}
    jsonb_build_object(
        'legacy_user_id', {{ orders }}.legacy_user_id,
        'registration_date', to_char({{ orders }}.user_registered_at, 'YYYY-MM-DD')
    )
{%- endmacro %}
