{#
    Money as written in the legacy tables: an amount and a currency (docs/cleaning-rules.md, rules M1-M4).
    Both decimal conventions are read: a comma or a point between groups of three digits before a decimal part of
    the other separator (1,234.56 and 1.234,56 are both 1234.56), groups alone when there are two or more
    (1,234,567), and a comma followed by one or two digits is a decimal comma. A single separator followed by
    exactly three digits (1,234 or 5.001) is ambiguous: it is not read here, but by money_reading(), and the
    model decides with evidence (rule M4). `free` is 0.00. Negative amounts are returned negative for the model to
    reject. Null when unreadable, and when the amount has more than seven integer digits: ten million or more is no
    price this shop charged, and keeping under it lets quantity (at most 1000) times unit price fit the target's
    numeric(12, 2). Expects a value already passed through clean_text().
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
        when {{ digits }} ~ '^-?(\d{1,3},\d{3}\.\d{1,2}|\d,\d{3},\d{3}(\.\d{1,2})?)$'
            then replace({{ digits }}, ',', '')::numeric
        when {{ digits }} ~ '^-?(\d{1,3}\.\d{3},\d{1,2}|\d\.\d{3}\.\d{3}(,\d{1,2})?)$'
            then replace(replace({{ digits }}, '.', ''), ',', '.')::numeric
        when {{ digits }} ~ '^-?\d{1,7},\d{1,2}$'
            then replace({{ digits }}, ',', '.')::numeric
    end)::numeric(12, 2)
{%- endmacro %}

{#
    Rule M4: one reading of an ambiguous amount (a single `.` or `,` followed by exactly three digits), null for
    any other value. `thousands` reads the separator as a thousands group (1,234 -> 1234); `decimal` as a decimal
    point, unrounded (5.001 -> 5.001, which no numeric(12, 2) value equals, so it never agrees with evidence).
#}
{% macro money_reading(value, reading) -%}
    {%- set digits = money_digits(value) -%}
    {%- if reading == 'thousands' -%}
        (case when {{ digits }} ~ '^-?\d{1,3}[.,]\d{3}$' then translate({{ digits }}, '.,', '')::numeric end)
    {%- elif reading == 'decimal' -%}
        (case when {{ digits }} ~ '^-?\d{1,3}[.,]\d{3}$' then replace({{ digits }}, ',', '.')::numeric end)
    {%- else -%}
        {{ exceptions.raise_compiler_error("money_reading: reading must be 'thousands' or 'decimal'") }}
    {%- endif -%}
{%- endmacro %}

{#
    How a money value parsed: `missing` (no text), `negative` (when asked: negative under every reading),
    `ambiguous` (rule M4: two readings, for the model to decide), `invalid` (unreadable), else `ok`.
#}
{% macro money_status(text, amount, thousands_reading, negative=false) -%}
    {%- set negative_check = "when coalesce(" ~ amount ~ ", " ~ thousands_reading ~ ") < 0 then 'negative'"
        if negative else "" -%}
    case
        when {{ text }} is null then 'missing'
        {{ negative_check }}
        when {{ thousands_reading }} is not null then 'ambiguous'
        when {{ amount }} is null then 'invalid'
        else 'ok'
    end
{%- endmacro %}

{#
    Rule M4: of an ambiguous amount's two readings, the one equal to the evidence (same amount and currency),
    as numeric(12, 2); null when neither is. The readings differ unless both are 0, so at most one value agrees.
#}
{% macro money_agreeing_reading(thousands_reading, decimal_reading, currency, evidence, evidence_currency) -%}
    (case
        when {{ currency }} = {{ evidence_currency }} and {{ thousands_reading }} = {{ evidence }}
            then {{ thousands_reading }}
        when {{ currency }} = {{ evidence_currency }} and {{ decimal_reading }} = {{ evidence }}
            then {{ decimal_reading }}
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
