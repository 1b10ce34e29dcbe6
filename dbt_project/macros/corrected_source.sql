{#
    A legacy table's rows with the applied per-row corrections (issue 14) in place of the raw values they correct:
    `id`; each of `columns`, corrected where a correction names it, else as the legacy row holds it; `legacy_row`,
    the row as the legacy table holds it (every column, for the ledger); and `corrected_values`, the row's
    corrections as a JSON object of column to typed value (NULL where none applies), which rule O3 lays over the
    legacy row. `corrections` holds the applied corrections of this table, at most one per (legacy_id, column_name);
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
        corrections_by_row.corrected_values
    from {{ legacy }}
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
