{# The column is null only in rows of the given reason code (a row rejected for lacking the value itself). #}
{% test not_null_unless(model, column, reason_code) %}
    select *
    from {{ model }}
    where {{ column }} is null and reason_code is distinct from '{{ reason_code }}'
{% endtest %}
