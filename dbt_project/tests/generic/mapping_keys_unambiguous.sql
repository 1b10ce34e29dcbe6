{#
    Rule S1: no two spellings of a mapping seed that fold to one key (mapping_key) map to different values, or a
    lookup would fan out or pick one at random. Repeats of one key and value are harmless (mapping_seed makes them
    one row).
#}
{% test mapping_keys_unambiguous(model, column_name, value) %}
    select
        {{ mapping_key(column_name) }} as spelling_key,
        count(distinct {{ value }}) as values_mapped_to
    from {{ model }}
    group by {{ mapping_key(column_name) }}
    having count(distinct {{ value }}) > 1
{% endtest %}
