{#
    What rule O7 compared an order's date with, as the ledger's evidence: the legacy id of the user the order
    resolved to and that user's registration day (the day the comparison reads).
#}
{% macro registration_evidence(orders) -%}
    jsonb_build_object(
        'legacy_user_id', {{ orders }}.legacy_user_id,
        'registration_date', {{ orders }}.user_registered_at::date::text
    )
{%- endmacro %}
