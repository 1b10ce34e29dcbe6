{#
    A person's name for display (rule N1): single spaces; `LAST, First` turned round; an all-capitals name
    in title case. Expects a value already passed through clean_text().
#}
{% macro tidy_name(value) -%}
    {%- set spaced = "regexp_replace(" ~ value ~ ", '\s+', ' ', 'g')" -%}
    {%- set turned = "case when " ~ spaced ~ " like '%,%' then btrim(split_part(" ~ spaced ~ ", ',', 2)) || ' ' || btrim(split_part(" ~ spaced ~ ", ',', 1)) else " ~ spaced ~ " end" -%}
    case
        when {{ spaced }} = upper({{ spaced }}) and {{ spaced }} <> lower({{ spaced }}) then initcap({{ turned }})
        else {{ turned }}
    end
{%- endmacro %}
