{#
    Money as written in the legacy tables: an amount and a currency (docs/cleaning-rules.md, rules M1-M4).
    Both decimal conventions are read: a single separator followed by exactly three digits is a thousands
    group (1,234 and 1.234 are both 1234); a comma followed by one or two digits is a decimal comma.
    `free` is 0.00. Negative amounts are returned negative for the model to reject. Null when unreadable,
    and when the amount has more than seven integer digits: ten million or more is no price this shop charged,
    and keeping under it lets quantity (at most 1000) times unit price fit the target's numeric(12, 2).
    Expects a value already passed through clean_text().
#}
{% macro money_digits(value) -%}
    {#- Plain replace() and translate(), not a regular expression: this runs several times per value. -#}
    replace(replace(replace(translate(lower({{ value }}), '$€ ', ''), 'usd', ''), 'eur', ''), 'us', '')
{%- endmacro %}

{% macro parse_money_amount(value) -%}
    {%- set digits = money_digits(value) -%}
    (case
        when lower({{ value }}) in ('free', 'gratis') then 0.00
        when {{ digits }} ~ '^-?\d{1,7}(\.\d{1,2})?$'
            then ({{ digits }})::numeric
        when {{ digits }} ~ '^-?(\d{1,3},\d{3}|\d,\d{3},\d{3})(\.\d{1,2})?$'
            then replace({{ digits }}, ',', '')::numeric
        when {{ digits }} ~ '^-?(\d{1,3}\.\d{3}|\d\.\d{3}\.\d{3})(,\d{1,2})?$'
            then replace(replace({{ digits }}, '.', ''), ',', '.')::numeric
        when {{ digits }} ~ '^-?\d{1,7},\d{1,2}$'
            then replace({{ digits }}, ',', '.')::numeric
    end)::numeric(12, 2)
{%- endmacro %}

{#
    The currency a legacy money value names; a bare number is USD, the legacy app's own currency (rule M2).
    Only meaningful where parse_money_amount() is not null.
#}
{% macro parse_money_currency(value) -%}
    case
        when {{ value }} ~* '(eur|€)' then 'EUR'
        else 'USD'
    end
{%- endmacro %}
