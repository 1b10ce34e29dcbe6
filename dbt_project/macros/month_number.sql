{#
    Rule T4. The month (1-12) an English or Spanish month name or abbreviation names, told by its first three
    letters (no two months share them: may is May in both languages, mar is March). The name must be lower case
    and already checked by parse_timestamp's pattern, which admits only real month names.
#}
{% macro month_number(name) -%}
    case left({{ name }}, 3)
        when 'jan' then 1 when 'ene' then 1 when 'feb' then 2 when 'mar' then 3 when 'apr' then 4
        when 'abr' then 4 when 'may' then 5 when 'jun' then 6 when 'jul' then 7 when 'aug' then 8
        when 'ago' then 8 when 'sep' then 9 when 'set' then 9 when 'oct' then 10 when 'nov' then 11
        when 'dec' then 12 when 'dic' then 12
    end
{%- endmacro %}
