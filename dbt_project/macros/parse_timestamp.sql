{#
    Every timestamp format seen in the legacy tables, and every other date form that needs no guess, to
    `timestamp without time zone`; null when none fits, the date is impossible, or the value contradicts itself
    (rules T1-T5 of docs/cleaning-rules.md). The day/month rule for slash dates (T2): a number above 12 decides;
    otherwise a slash date with an AM/PM time is month-first (the US form the legacy app wrote for orders) and a
    slash date alone is day-first (the form it wrote for products). Expects a value already passed through
    clean_text(). pandas_engine/parse.py holds the same patterns.
#}
{% macro parse_timestamp(value) -%}
    {%- set first = "split_part(" ~ value ~ ", '/', 1)" -%}
    {%- set second = "split_part(" ~ value ~ ", '/', 2)" -%}
    {%- set slash_year = "left(split_part(" ~ value ~ ", '/', 3), 4)" -%}
    {%- set clock = "split_part(" ~ value ~ ", ' ', 2)" -%}
    {%- set pm_offset = "case when upper(right(" ~ value ~ ", 2)) = 'PM' then 12 else 0 end" -%}
    {%- set hour12 = "(split_part(" ~ clock ~ ", ':', 1)::int % 12 + " ~ pm_offset ~ ")::text" -%}
    {%- set minute12 = "left(split_part(" ~ clock ~ ", ':', 2), 2)" -%}
    {#-
        T3-T5, the forms after the legacy ones: a date, then perhaps a time. Whole-value matches (`~`, no capture
        groups) admit a value; plain string functions then read its parts, each computed once in a subquery.
        Capture groups (regexp_match) cost PostgreSQL 25-280 us a value on these patterns, against 1-10 for `~`,
        and a part written twice in an expression is computed twice. (A subquery bars a parallel plan, but the
        staging models read a materialized CTE, which bars one already.) The date and the time are matched apart:
        one pattern for both costs PostgreSQL several times more. The pandas engine reads the same language with
        capture groups (RE2 is fast with them).
    -#}
    {%- set year_first_pattern -%}
        ^[0-9]{4}(?:-[0-9]{1,2}-[0-9]{1,2}|/[0-9]{1,2}/[0-9]{1,2}|[.][0-9]{1,2}[.][0-9]{1,2})$
    {%- endset -%}
    {%- set day_first_dotted_pattern = "^[0-9]{1,2}[.][0-9]{1,2}[.][0-9]{4}$" -%}
    {#- T4: English and Spanish names, matched in lower case (ASCII only, by translate(), whatever the locale). -#}
    {%- set month_pattern -%}
        (?:jan(?:uary)?|feb(?:ruary|rero)?|mar(?:ch|zo)?|apr(?:il)?|abr(?:il)?|may(?:o)?|jun(?:e|io)?|jul(?:y|io)?|aug(?:ust)?|ago(?:sto)?|sep(?:t|tember|tiembre)?|set(?:iembre)?|oct(?:ober|ubre)?|nov(?:ember|iembre)?|dec(?:ember)?|dic(?:iembre)?|ene(?:ro)?)[.]?
    {%- endset -%}
    {%- set weekday_pattern -%}
        (?:mon(?:day)?|tue(?:s|sday)?|wed(?:nesday)?|thu(?:r|rs|rsday)?|fri(?:day)?|sat(?:urday)?|sun(?:day)?|lun(?:es)?|mar(?:tes)?|mi[eéÉ](?:rcoles)?|jue(?:ves)?|vie(?:rnes)?|s[aáÁ]b(?:ado)?|dom(?:ingo)?)[.]?,? +
    {%- endset -%}
    {%- set day_pattern = "[0-9]{1,2}(?:st|nd|rd|th)?" -%}
    {%- set named_pattern = "^(?:" ~ weekday_pattern ~ ")?(?:" ~ month_pattern ~ " +" ~ day_pattern ~ ",? +|"
        ~ day_pattern ~ " +(?:de +)?" ~ month_pattern ~ ",? +(?:del? +)?|[0-9]{1,2}(?:-" ~ month_pattern ~ "-|/"
        ~ month_pattern ~ "/))[0-9]{4}$" -%}
    {#- The time: 24-hour or 12-hour clock, seconds and a fraction, a zone or an offset. -#}
    {%- set time_pattern -%}
        ^(?:(?:[Tt]|,? +)[0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]{1,6})?)?(?: ?[AaPp][.]?[Mm][.]?)?(?:[Zz]| ?(?:[Uu][Tt][Cc]|[Gg][Mm][Tt])| ?[+-][0-9]{2}(?::?[0-9]{2})?)?)?$
    {%- endset -%}
    {%- set upper_ascii = "ABCDEFGHIJKLMNOPQRSTUVWXYZ" -%}
    {%- set lower_ascii = "abcdefghijklmnopqrstuvwxyz" -%}

    {#- The first colon is the hour's: the date stands before the hour; the rest of the time (`tail`) after minutes. -#}
    {%- set colon = "strpos(" ~ value ~ ", ':')" -%}
    {%- set date_text = "case when " ~ colon ~ " > 0 then rtrim(left(" ~ value ~ ", " ~ colon ~ " - 3), 'Tt ,') else "
        ~ value ~ " end" -%}
    {%- set time_text = "substr(" ~ value ~ ", length(" ~ date_text ~ ") + 1)" -%}
    {#-
        The date's tokens, lower case, without separators, de and del: year, month, day (2021-03-04); day, month,
        year (04.03.2021, 4 March 2021, 4 de marzo de 2021, 4-Mar-2021); month, day, year (March 4th, 2021); a
        weekday, if written, first.
    -#}
    {%- set date_tokens = "array_remove(array_remove(array_remove(string_to_array(translate(" ~ date_text ~ ", '"
        ~ upper_ascii ~ ",-/.', '" ~ lower_ascii ~ "    '), ' '), ''), 'de'), 'del')" -%}
    {%- set last = "cardinality(matched.date_tokens)" -%}
    {#- Only a year-first date opens with four digits (a day is one or two, perhaps with an ordinal: 25th). -#}
    {%- set year_first = "length(matched.date_tokens[1]) = 4"
        ~ " and translate(matched.date_tokens[1], '0123456789', '') = ''" -%}
    {%- set before = "matched.date_tokens[" ~ last ~ " - 2]" -%}
    {%- set after = "matched.date_tokens[" ~ last ~ " - 1]" -%}
    {%- set day_before = "strpos('0123456789', left(" ~ before ~ ", 1)) > 0" -%}
    {%- set month_token = "case when " ~ year_first ~ " then matched.date_tokens[2] when " ~ day_before
        ~ " then " ~ after ~ " else " ~ before ~ " end" -%}
    {%- set day_token = "case when " ~ year_first ~ " then matched.date_tokens[3] when " ~ day_before
        ~ " then " ~ before ~ " else " ~ after ~ " end" -%}

    {#- The time's parts, from the hour, the minutes and the tail. -#}
    {%- set tail = "matched.tail" -%}
    {%- set fraction = "case when left(" ~ tail ~ ", 1) = ':' and substr(" ~ tail ~ ", 4, 1) in ('.', ',') then substr("
        ~ tail ~ ", 5) end" -%}
    {#- Only a meridiem puts an a or a p after the minutes (the zones are Z, UTC and GMT). -#}
    {%- set has_meridiem = "translate(" ~ tail ~ ", 'aApP', '') <> " ~ tail -%}
    {%- set afternoon = "translate(" ~ tail ~ ", 'pP', '') <> " ~ tail -%}
    {%- set sign_at = "(strpos(" ~ tail ~ ", '+') + strpos(" ~ tail ~ ", '-'))" -%}
    {%- set offset_digits = "replace(substr(" ~ tail ~ ", " ~ sign_at ~ " + 1), ':', '')" -%}
    {%- set offset_hours = "left(" ~ offset_digits ~ ", 2)::int" -%}
    {%- set offset_minutes = "coalesce(nullif(substr(" ~ offset_digits ~ ", 3), ''), '0')::int" -%}
    {%- set written = make_timestamp_checked(
        "parts.year", "parts.month", "parts.day", "parts.hour", "parts.minute", "parts.second"
    ) -%}
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
        when
            (
                {{ date_text }} ~ '{{ year_first_pattern }}'
                or {{ date_text }} ~ '{{ day_first_dotted_pattern }}'
                or translate({{ date_text }}, '{{ upper_ascii }}', '{{ lower_ascii }}') ~ '{{ named_pattern }}'
            )
            and {{ time_text }} ~ '{{ time_pattern }}'
            then (
                select
                    case
                        -- A weekday that disagrees with the date makes the value unreadable.
                        when parts.readable and coalesce(extract(isodow from {{ written }}) = parts.weekday, true)
                            -- T5: a zone or an offset is converted to UTC, the frame epoch seconds are read in.
                            then {{ written }}
                                + parts.microseconds * interval '1 microsecond'
                                - parts.offset_minutes * interval '1 minute'
                    end
                from (
                    select
                        matched.date_tokens[case when {{ year_first }} then 1 else {{ last }} end] as year,
                        case
                            when strpos('0123456789', left({{ month_token }}, 1)) > 0 then ({{ month_token }})::int
                            else {{ month_number(month_token) }}
                        end as month,
                        rtrim({{ day_token }}, 'stndrh') as day,
                        case when {{ last }} = 4 then {{ weekday_number("matched.date_tokens[1]") }} end as weekday,
                        case
                            when {{ has_meridiem }}
                                then matched.hour::int % 12 + case when {{ afternoon }} then 12 else 0 end
                            else matched.hour::int
                        end as hour,
                        matched.minute,
                        case when left({{ tail }}, 1) = ':' then substr({{ tail }}, 2, 2) else '0' end as second,
                        coalesce(rpad(left({{ fraction }}, length({{ fraction }}) - length(ltrim({{ fraction }},
                            '0123456789'))), 6, '0')::int, 0) as microseconds,
                        case
                            when {{ sign_at }} > 0
                                then case when substr({{ tail }}, {{ sign_at }}, 1) = '-' then -1 else 1 end
                                    * ({{ offset_hours }} * 60 + {{ offset_minutes }})
                            else 0
                        end as offset_minutes,
                        -- A 12-hour clock runs 1-12 (13:05 PM, 0:05 AM contradict themselves); offsets to 14:59.
                        (not ({{ has_meridiem }}) or matched.hour::int between 1 and 12)
                        and case
                            when {{ sign_at }} > 0 then {{ offset_hours }} <= 14 and {{ offset_minutes }} <= 59
                            else true
                        end as readable
                    from (
                        select
                            {{ date_tokens }} as date_tokens,
                            case
                                when {{ colon }} > 0 then ltrim(substr({{ value }}, {{ colon }} - 2, 2), 'Tt ,')
                                else '0'
                            end as hour,
                            case when {{ colon }} > 0 then substr({{ value }}, {{ colon }} + 1, 2) else '0' end as minute,
                            case when {{ colon }} > 0 then substr({{ value }}, {{ colon }} + 3) else '' end as tail
                        -- A subquery with a limit is not inlined: each part is computed once.
                        limit 1
                    ) as matched
                    limit 1
                ) as parts
            )
    end
{%- endmacro %}
