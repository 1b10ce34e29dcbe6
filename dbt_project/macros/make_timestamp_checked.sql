{#
    A timestamp from text parts, or null when the parts do not form a real moment (2021-02-30, 13th month,
    25 o'clock). Only integer comparisons guard make_timestamp(), so no evaluation order can make it raise.
#}
{% macro make_timestamp_checked(year, month, day, hour="'0'", minute="'0'", second="'0'") -%}
    {#- Days in the month by arithmetic: cheaper per row than building a date and adding an interval. -#}
    {%- set y = "(" ~ year ~ ")::int" -%}
    {%- set is_leap = y ~ " % 4 = 0 and (" ~ y ~ " % 100 <> 0 or " ~ y ~ " % 400 = 0)" -%}
    {%- set leap_day = "case when " ~ is_leap ~ " then 1 else 0 end" -%}
    {%- set month_days = "case (" ~ month ~ ")::int when 2 then 28 + " ~ leap_day
        ~ " when 4 then 30 when 6 then 30 when 9 then 30 when 11 then 30 else 31 end" -%}
    case
        when
            ({{ year }})::int between 1900 and 2100
            and ({{ month }})::int between 1 and 12
            and ({{ day }})::int between 1 and {{ month_days }}
            and ({{ hour }})::int between 0 and 23
            and ({{ minute }})::int between 0 and 59
            and ({{ second }})::int between 0 and 59
            then make_timestamp(
                ({{ year }})::int, ({{ month }})::int, ({{ day }})::int,
                ({{ hour }})::int, ({{ minute }})::int, ({{ second }})::int
            )
    end
{%- endmacro %}
