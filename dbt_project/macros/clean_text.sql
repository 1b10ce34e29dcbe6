{# Trim a legacy text value; blank strings and the legacy null markers become null. #}
{% macro clean_text(value) -%}
    case
        when lower(btrim({{ value }})) in ('', 'n/a', 'na', 'null', 'none', '-') then null
        else btrim({{ value }})
    end
{%- endmacro %}
