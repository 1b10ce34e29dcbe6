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
