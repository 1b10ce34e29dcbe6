{#
    The amount of a money text in numeric(12, 2), given the text and its money_digits() (rules M1, M3).

    Money as written in the legacy tables: an amount and a currency (docs/cleaning-rules.md, rules M1-M4).
    money_amount_text() finds the amount in a text that holds a sign, a currency written before the amount, the
    amount, and a currency written after it (`-EUR 1.234,56`, `$12.50`); money_digits() is the amount with its
    sign, money_currency_key() the currency written, for the lookup in the currency_names seed (M2).
    Both decimal conventions are read: a comma or a point between groups of three digits before a decimal part of
    the other separator (1,234.56 and 1.234,56 are both 1234.56), groups alone when there are two or more
    (1,234,567), and a comma followed by one or two digits is a decimal comma. A single separator followed by
    exactly three digits (1,234 or 5.001) is ambiguous: it is not read here, but by money_reading(), and the
    model decides with evidence (rule M4). `free` is 0.00. Negative amounts are returned negative for the model to
    reject. Null when unreadable, and when the amount has more than seven integer digits: ten million or more is no
    price this shop charged, and keeping under it lets quantity (at most 1000) times unit price fit the target's
    numeric(12, 2). Expects a value already passed through clean_text().
#}
{% macro parse_money_amount(value, digits) -%}
    (case
        when lower({{ value }}) in ('free', 'gratis') then 0.00
        when {{ digits }} ~ '^-?\d{1,7}(\.\d{1,2})?$'
            then ({{ digits }})::numeric
        when {{ digits }} ~ '^-?(\d{1,3},\d{3}\.\d{1,2}|\d,\d{3},\d{3}(\.\d{1,2})?)$'
            then replace({{ digits }}, ',', '')::numeric
        when {{ digits }} ~ '^-?(\d{1,3}\.\d{3},\d{1,2}|\d\.\d{3}\.\d{3}(,\d{1,2})?)$'
            then replace(replace({{ digits }}, '.', ''), ',', '.')::numeric
        when {{ digits }} ~ '^-?\d{1,7},\d{1,2}$'
            then replace({{ digits }}, ',', '.')::numeric
    end)::numeric(12, 2)
{%- endmacro %}
