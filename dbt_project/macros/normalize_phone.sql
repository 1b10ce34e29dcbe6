{#
    A phone number in E.164, or null when it cannot be written so without guessing (rule P1): an extension,
    a number cut by the legacy varchar(20), or a digit count no numbering plan fits. Numbers without a
    country code are North American (+1), the legacy app's only market.
#}
{% macro normalize_phone(value) -%}
    {%- set digits = "regexp_replace(" ~ value ~ ", '\D', '', 'g')" -%}
    case
        when {{ value }} ~* '(x|ext)' then null
        when btrim({{ value }}) like '+%' and length({{ digits }}) between 8 and 15
            then '+' || {{ digits }}
        when {{ digits }} ~ '^00\d{8,15}$' then '+' || substr({{ digits }}, 3)
        when length({{ digits }}) = 10 then '+1' || {{ digits }}
        when length({{ digits }}) = 11 and left({{ digits }}, 1) = '1' then '+' || {{ digits }}
    end
{%- endmacro %}
