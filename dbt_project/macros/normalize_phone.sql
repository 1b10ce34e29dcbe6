{#
    A phone number in E.164, or null when it cannot be written so without guessing (rule P1). Only digits,
    spaces, dots, dashes, parentheses and a leading + qualify: an extension or any other text keeps the
    number as written. Ten digits are North American (+1), the legacy app's only market; `00` is the
    international prefix. Any other digit count (a number cut by the legacy varchar(20)) is not guessed at.
#}
{% macro normalize_phone(value) -%}
    {%- set digits = "translate(" ~ value ~ ", '+ ().-', '')" -%}
    case
        when {{ value }} !~ '^\+?[0-9 ().-]+$' then null
        when left({{ value }}, 1) = '+' and length({{ digits }}) between 8 and 15
            then '+' || {{ digits }}
        when left({{ digits }}, 2) = '00' and length({{ digits }}) between 10 and 17
            then '+' || substr({{ digits }}, 3)
        when length({{ digits }}) = 10 then '+1' || {{ digits }}
        when length({{ digits }}) = 11 and left({{ digits }}, 1) = '1' then '+' || {{ digits }}
    end
{%- endmacro %}
