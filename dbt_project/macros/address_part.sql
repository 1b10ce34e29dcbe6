{#
    One part of a legacy `street, city, ST 12345, country` address (rule A1), read from the right so a street
    with commas in it (`12 Main St, Apt 4`) stays whole. With fewer than three commas the parts are not
    guessed: every part is null and the address is kept whole in address_raw.
    part: one of street, city, state, postal_code, country. Expects a value passed through clean_text().
#}
{% macro address_part(value, part) -%}
    {%- set commas = "(length(" ~ value ~ ") - length(replace(" ~ value ~ ", ',', '')))" -%}
    {%- set country = "split_part(" ~ value ~ ", ',', -1)" -%}
    {%- set state_zip = "split_part(" ~ value ~ ", ',', -2)" -%}
    {%- set city = "split_part(" ~ value ~ ", ',', -3)" -%}
    {%- if part == 'street' -%}
        {%- set expression = "left(" ~ value ~ ", length(" ~ value ~ ") - length(" ~ country ~ ") - length(" ~ state_zip ~ ") - length(" ~ city ~ ") - 3)" -%}
    {%- elif part == 'city' -%}
        {%- set expression = city -%}
    {%- elif part == 'state' -%}
        {%- set expression = "split_part(btrim(" ~ state_zip ~ "), ' ', 1)" -%}
    {%- elif part == 'postal_code' -%}
        {%- set expression = "split_part(btrim(" ~ state_zip ~ "), ' ', 2)" -%}
    {%- elif part == 'country' -%}
        {%- set expression = country -%}
    {%- else -%}
        {{ exceptions.raise_compiler_error("address_part: unknown part " ~ part) }}
    {%- endif -%}
    case when {{ commas }} >= 3 then nullif(btrim({{ expression }}), '') end
{%- endmacro %}
