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
