{#
    How a money value parsed: `missing` (no text), `invalid` (a currency rule M2 cannot read), `negative` (when
    asked: negative under every reading), `ambiguous` (rule M4: two readings, for the model to decide), `invalid`
    (an unreadable amount), else `ok`.
#}
{% macro money_status(text, amount, thousands_reading, currency_status, negative=false) -%}
    {%- set negative_check = "when coalesce(" ~ amount ~ ", " ~ thousands_reading ~ ") < 0 then 'negative'"
        if negative else "" -%}
    case
        when {{ text }} is null then 'missing'
        when {{ currency_status }} = 'unknown' then 'invalid'
        {{ negative_check }}
        when {{ thousands_reading }} is not null then 'ambiguous'
        when {{ amount }} is null then 'invalid'
        else 'ok'
    end
{%- endmacro %}
