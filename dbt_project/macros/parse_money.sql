{#
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
{#
    The amount of a money text (rule M1), null unless the whole text is one amount with at most a currency written
    before or after it: `^ sign? currency? amount currency? $`, each part bounded by what the next cannot start
    with, so the split is unique. A match test and a substring, not regexp_match(): PostgreSQL finds those with its
    fast automaton, where capturing groups cost thirty times as much per value.
#}
{% macro money_amount_text(value) -%}
    (case
        when {{ value }}
            ~ '^-?\s*(?:[^-0-9.,\s](?:[^0-9]*[^-0-9.,\s])?)?\s*-?[0-9](?:[0-9., ]*[0-9])?\s*(?:[^-0-9.,\s][^0-9]*)?$'
            then substring({{ value }} from '-?[0-9](?:[0-9., ]*[0-9])?')
    end)
{%- endmacro %}

{#
    The signed amount of a money text: a `-` opening the text signs it unless the amount itself starts there
    (`-€5`, `€-5` and `-5 EUR` are all -5). Spaces are dropped only where they group thousands (`12 500,00`);
    any other space stays, and the amount reads as nothing (`12 50` is no 1250). Null when money_amount_text() is.
#}
{% macro money_digits(value, amount_text) -%}
    ((case when left({{ value }}, 1) = '-' and strpos({{ value }}, {{ amount_text }}) > 1 then '-' else '' end)
        || case
            when {{ amount_text }} ~ '^-?[0-9]{1,3}( [0-9]{3})+([.,][0-9]{1,2})?$'
                then replace({{ amount_text }}, ' ', '')
            else {{ amount_text }}
        end)
{%- endmacro %}

{#
    The currency written before or after the amount, as currency_key() folds it (the sign goes with the fold);
    null for a bare amount and where money_amount_text() is null. The amount occurs once: nothing else holds digits.
#}
{% macro money_currency_key(value, amount_text) -%}
    {{ currency_key("replace(" ~ value ~ ", " ~ amount_text ~ ", '')") }}
{%- endmacro %}

{#
    The key a currency spelling is looked up by (rule M2): lower case, without spaces, dots, commas and hyphens, so
    `US$`, `us $` and `U.S.$` are one; null when nothing is left. Symbols are kept: they are what it is made of.
#}
{% macro currency_key(value) -%}
    nullif(lower(regexp_replace({{ value }}, '[\s.,-]', '', 'g')), '')
{%- endmacro %}

{# The amount of a money text in numeric(12, 2), given the text and its money_digits() (rules M1, M3). #}
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

{#
    Rule M4: one reading of an ambiguous amount (a single `.` or `,` followed by exactly three digits), null for
    any other value. `thousands` reads the separator as a thousands group (1,234 -> 1234); `decimal` as a decimal
    point, unrounded (5.001 -> 5.001, which no numeric(12, 2) value equals, so it never agrees with evidence).
#}
{% macro money_reading(digits, reading) -%}
    {%- if reading == 'thousands' -%}
        (case when {{ digits }} ~ '^-?\d{1,3}[.,]\d{3}$' then translate({{ digits }}, '.,', '')::numeric end)
    {%- elif reading == 'decimal' -%}
        (case when {{ digits }} ~ '^-?\d{1,3}[.,]\d{3}$' then replace({{ digits }}, ',', '.')::numeric end)
    {%- else -%}
        {{ exceptions.raise_compiler_error("money_reading: reading must be 'thousands' or 'decimal'") }}
    {%- endif -%}
{%- endmacro %}

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
    The legacy app's own currency (rule M2): the dbt var legacy_currency, which the loader sets from
    LEGACY_CURRENCY after checking it is an ISO 4217 code. Run by hand with another value, the marts' currency_code
    tests and the target's check refuse it.
#}
{% macro legacy_currency() -%}
    {{ var('legacy_currency', 'USD') | string | upper | replace("'", "") }}
{%- endmacro %}

{#
    The currency_names seed by currency_key (rule M2): how many currencies each spelling names, the one it names
    when it names one, and whether the legacy currency is among those it names.
#}
{% macro currency_lookup() -%}
    (
        select
            {{ currency_key('currency_spelling') }} as currency_key,
            count(distinct currency) as currency_count,
            min(currency) as only_currency,
            bool_or(currency = '{{ legacy_currency() }}') as names_legacy_currency
        from {{ ref('currency_names') }}
        group by {{ currency_key('currency_spelling') }}
    )
{%- endmacro %}

{#
    Rule M2: the currency a money text names, from its money_currency_key() and its row of currency_lookup()
    (`lookup`, joined on that key): the one currency a spelling names, or for a spelling several currencies share
    (`$`, `kr`), the legacy currency when it is one of them. Null for a bare amount and for a spelling the seed
    does not know or that names several currencies, none of them the legacy one.
#}
{% macro money_currency(key, lookup) -%}
    case
        when {{ key }} is not null and {{ lookup }}.currency_count = 1 then {{ lookup }}.only_currency
        when {{ key }} is not null and {{ lookup }}.names_legacy_currency then '{{ legacy_currency() }}'
    end
{%- endmacro %}

{# How a money text names its currency (rule M2): `bare` (not at all), `named`, or `unknown` (unreadable). #}
{% macro money_currency_status(key, currency) -%}
    case
        when {{ key }} is null then 'bare'
        when {{ currency }} is null then 'unknown'
        else 'named'
    end
{%- endmacro %}

{#
    What rule M2 inferred a bare amount's currency from when nothing related names one, as the ledger's evidence:
    the currency taken and the setting it came from.
#}
{% macro currency_assumed_evidence(currency) -%}
    jsonb_build_object('currency', {{ currency }}, 'from', 'LEGACY_CURRENCY')
{%- endmacro %}
