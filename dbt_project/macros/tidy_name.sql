{#
    A person's name for display (rule N1): single spaces; `LAST, First` turned round; an all-capitals name
    in title case. Expects a value already passed through clean_text() and squish().
#}
{% macro tidy_name(value) -%}
    {%- set spaced = value -%}
    {%- set first_names = "btrim(split_part(" ~ spaced ~ ", ',', 2))" -%}
    {%- set last_names = "btrim(split_part(" ~ spaced ~ ", ',', 1))" -%}
    {%- set turned_round = first_names ~ " || ' ' || " ~ last_names -%}
    {%- set turned = "case when " ~ spaced ~ " like '%,%' then " ~ turned_round ~ " else " ~ spaced ~ " end" -%}
    case
        when {{ spaced }} = upper({{ spaced }}) and {{ spaced }} <> lower({{ spaced }}) then initcap({{ turned }})
        else {{ turned }}
    end
{%- endmacro %}
