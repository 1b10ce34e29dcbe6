{# A mapping seed's rows by folded key (rule S1): `select spelling_key, <value> from (…)`, one row per key and value. #}
{% macro mapping_seed(seed, spelling, value) -%}
    (select distinct {{ mapping_key(spelling) }} as spelling_key, {{ value }} from {{ ref(seed) }})
{%- endmacro %}
