{#
    How a parse went, for the status column beside a parsed value: `missing` when the cleaned text is null,
    `negative` (when asked) for a negative amount, the `unread` word when the parse gave null, else `ok`.
#}
{% macro parse_status(text, parsed, unread='invalid', negative=false) -%}
    {%- set negative_check = "when " ~ parsed ~ " < 0 then 'negative'" if negative else "" -%}
    case
        when {{ text }} is null then 'missing'
        when {{ parsed }} is null then '{{ unread }}'
        {{ negative_check }}
        else 'ok'
    end
{%- endmacro %}
