{#
    Rule T4. The ISO day of the week (Monday 1 to Sunday 7) an English or Spanish weekday name or abbreviation
    names, told by its first two letters (the Spanish ma is martes, Tuesday; sá and sÁ are sábado, whose
    accented capital an ASCII lower-casing leaves). The name must be lower case and already checked by
    parse_timestamp's pattern, which admits only real weekday names.
#}
{% macro weekday_number(name) -%}
    case left({{ name }}, 2)
        when 'mo' then 1 when 'lu' then 1 when 'tu' then 2 when 'ma' then 2 when 'we' then 3 when 'mi' then 3
        when 'th' then 4 when 'ju' then 4 when 'fr' then 5 when 'vi' then 5 when 'sa' then 6 when 'sá' then 6
        when 'sÁ' then 6 when 'su' then 7 when 'do' then 7
    end
{%- endmacro %}
