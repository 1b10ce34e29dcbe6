{# Every value is an ISO 3166-1 alpha-2 code as the target stores it: two capital letters (rule A1). #}
{% test country_code(model, column_name) %}
    select {{ column_name }}
    from {{ model }}
    where {{ column_name }} !~ '^[A-Z]{2}$'
{% endtest %}
