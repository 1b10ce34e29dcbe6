{#
    n, for a mart column whose enforced contract is varchar(n): the width of the target column it feeds. The marts'
    contracts (models/marts/_marts__models.yml) are the one place the transform reads widths from; they mirror
    loader/core/models.py, and tests/loader/core/test_contract.py checks the two agree. Rules L1 and L2 compare values with it.
#}
{% macro contract_width(model_name, column_name) -%}
    {%- if not execute -%}
        {#- Parsing: the graph is not filled in yet, and the SQL is not run. -#}
        {{ return(0) }}
    {%- endif -%}
    {%- if graph.nodes is not defined -%}
        {#- A unit test runs without the project's graph: it must give the width (overrides: macros:). -#}
        {{ exceptions.raise_compiler_error("contract_width: no graph here; a unit test overrides the macro") }}
    {%- endif -%}
    {%- set node = graph.nodes.get('model.' ~ project_name ~ '.' ~ model_name) -%}
    {%- if node is none or column_name not in node.columns -%}
        {{ exceptions.raise_compiler_error("contract_width: no mart column " ~ model_name ~ "." ~ column_name) }}
    {%- endif -%}
    {%- set data_type = node.columns[column_name].data_type | lower | replace(' ', '') -%}
    {%- if not (data_type.startswith('varchar(') and data_type.endswith(')')) -%}
        {{ exceptions.raise_compiler_error("contract_width: " ~ model_name ~ "." ~ column_name ~ " is " ~ data_type) }}
    {%- endif -%}
    {{ return(data_type[8:-1] | int) }}
{%- endmacro %}
