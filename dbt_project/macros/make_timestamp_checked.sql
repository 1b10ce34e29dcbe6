{#
    A timestamp from text parts, or null when the parts do not form a real moment (2021-02-30, 13th month,
    25 o'clock). Nested cases, because PostgreSQL does not promise to evaluate `and` left to right and
    make_date() raises on an impossible date.
#}
{% macro make_timestamp_checked(year, month, day, hour="'0'", minute="'0'", second="'0'") -%}
    case
        when
            ({{ year }})::int between 1900 and 2100
            and ({{ month }})::int between 1 and 12
            and ({{ hour }})::int between 0 and 23
            and ({{ minute }})::int between 0 and 59
            and ({{ second }})::int between 0 and 59
            then
                case
                    when
                        ({{ day }})::int between 1 and extract(
                            day from make_date(({{ year }})::int, ({{ month }})::int, 1)
                            + interval '1 month - 1 day'
                        )::int
                        then make_timestamp(
                            ({{ year }})::int, ({{ month }})::int, ({{ day }})::int,
                            ({{ hour }})::int, ({{ minute }})::int, ({{ second }})::int
                        )
                end
    end
{%- endmacro %}
