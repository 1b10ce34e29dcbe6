{# Every value is an ISO 4217 code as the target stores it: three capital letters (rule M2). #}
{% test currency_code(model, column_name) %}
    select {{ column_name }}
    from {{ model }}
    where {{ column_name }} !~ '^[A-Z]{3}$'
{% endtest %}
