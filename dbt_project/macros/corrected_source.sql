{#
    A legacy table's rows with the applied per-row corrections (issue 14) in place of the raw values they correct:
    `id`; each of `columns`, corrected where a correction names it, else as the legacy row holds it; `legacy_row`,
    the row as the legacy table holds it (every column); `corrected_values`, the row's corrections as a JSON object
    of column to typed value (NULL where none applies), which rule O3 lays over the legacy row; and
    `lacks_unique_id`, true where the id is NULL or the legacy table repeats it (rule K1): only those rows carry
    their `legacy_row` on to the quarantine, which finds every other one by its id (quarantine_legacy_row). `corrections` holds the applied corrections of this table, at most one per (legacy_id, column_name);
    `casts` gives the SQL type of a column that is not text.
#}
{% macro corrected_source(legacy, corrections, columns, casts={}) -%}
    select
        {{ legacy }}.id,
        {% for column in columns -%}
            case
                when corrections_by_row.corrected_values ? '{{ column }}'
                    then (corrections_by_row.corrected_values ->> '{{ column }}'){{ '::' ~ casts[column] if column in casts }}
                else {{ legacy }}.{{ column }}
            end as {{ column }},
        {% endfor -%}
        -- .*, not the bare name: an extra legacy column named like the alias would stand in for the row.
        to_jsonb({{ legacy }}.*) as legacy_row,
        corrections_by_row.corrected_values,
        ({{ legacy }}.id is null or repeated_ids.id is not null) as lacks_unique_id
    from {{ legacy }}
    -- A join, not `id in (…)`: with the table's statistics the planner may expect many repeated ids and rescan
    -- the subquery for every row (minutes on a million rows); each id is here once, so no row is repeated.
    left join (
        select repeated.id from {{ legacy }} as repeated
        where repeated.id is not null
        group by repeated.id
        having count(*) > 1
    ) as repeated_ids
        on {{ legacy }}.id = repeated_ids.id
    -- One row per corrected legacy id: stg_legacy__corrections applies nothing to a repeated id, so no legacy row
    -- is repeated by this join.
    left join (
        select
            {{ corrections }}.legacy_id,
            jsonb_object_agg({{ corrections }}.column_name, {{ corrections }}.corrected_json) as corrected_values
        from {{ corrections }}
        group by {{ corrections }}.legacy_id
    ) as corrections_by_row
        on {{ legacy }}.id = corrections_by_row.legacy_id
{%- endmacro %}
