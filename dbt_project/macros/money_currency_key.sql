{#
    The currency written before or after the amount, as currency_key() folds it (the sign goes with the fold);
    null for a bare amount and where money_amount_text() is null. The amount occurs once: nothing else holds digits.
#}
{% macro money_currency_key(value, amount_text) -%}
    {{ currency_key("replace(" ~ value ~ ", " ~ amount_text ~ ", '')") }}
{%- endmacro %}
