{# How a money text names its currency (rule M2): `bare` (not at all), `named`, or `unknown` (unreadable). #}
{% macro money_currency_status(key, currency) -%}
    case
        when {{ key }} is null then 'bare'
        when {{ currency }} is null then 'unknown'
        else 'named'
    end
{%- endmacro %}
