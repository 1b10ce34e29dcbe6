{#
    Every timestamp format seen in the legacy tables, to `timestamp without time zone`; null when none fits
    or the date is impossible. The day/month rule for slash dates (docs/cleaning-rules.md, rule T2):
    a number above 12 decides; otherwise a slash date with an AM/PM time is month-first (the US form the
    legacy app wrote for orders) and a slash date alone is day-first (the form it wrote for products).
    Expects a value already passed through clean_text().
#}
{% macro parse_timestamp(value) -%}
    {%- set first = "split_part(" ~ value ~ ", '/', 1)" -%}
    {%- set second = "split_part(" ~ value ~ ", '/', 2)" -%}
    {%- set slash_year = "left(split_part(" ~ value ~ ", '/', 3), 4)" -%}
    {%- set clock = "split_part(" ~ value ~ ", ' ', 2)" -%}
    {%- set pm_offset = "case when upper(right(" ~ value ~ ", 2)) = 'PM' then 12 else 0 end" -%}
    {%- set hour12 = "(split_part(" ~ clock ~ ", ':', 1)::int % 12 + " ~ pm_offset ~ ")::text" -%}
    {%- set minute12 = "left(split_part(" ~ clock ~ ", ':', 2), 2)" -%}
    case
        when {{ value }} ~ '^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?$'
            then {{ make_timestamp_checked(
                "substr(" ~ value ~ ", 1, 4)", "substr(" ~ value ~ ", 6, 2)", "substr(" ~ value ~ ", 9, 2)",
                "coalesce(nullif(substr(" ~ value ~ ", 12, 2), ''), '0')",
                "coalesce(nullif(substr(" ~ value ~ ", 15, 2), ''), '0')",
                "coalesce(nullif(substr(" ~ value ~ ", 18, 2), ''), '0')"
            ) }}
        when {{ value }} ~ '^\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2} ?[AaPp][Mm]$'
            then case
                when {{ first }}::int > 12
                    then {{ make_timestamp_checked(slash_year, second, first, hour12, minute12) }}
                else {{ make_timestamp_checked(slash_year, first, second, hour12, minute12) }}
            end
        when {{ value }} ~ '^\d{1,2}/\d{1,2}/\d{4}$'
            then case
                when {{ second }}::int > 12
                    then {{ make_timestamp_checked(slash_year, first, second) }}
                else {{ make_timestamp_checked(slash_year, second, first) }}
            end
        when {{ value }} ~ '^\d{9,10}$'
            then (to_timestamp({{ value }}::bigint) at time zone 'UTC')
    end
{%- endmacro %}
