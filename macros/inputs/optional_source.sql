{#- The rows of a source table that may not exist yet, as the given columns (a mapping of
    column name to type, in select order). When the table is missing, an empty relation of the
    same columns, typed and nullable: models downstream still build and keep their shape.
    The table is looked up when the calling model is built, so a view built before the table
    existed stays empty until it is built again (whoever creates the table rebuilds it). -#}
{% macro optional_source(source_name, table_name, columns) -%}
    {%- if columns is not mapping or columns | length == 0 -%}
        {{ exceptions.raise_compiler_error("beton.optional_source('" ~ source_name ~ "', '" ~ table_name ~ "'): columns must be a non-empty mapping of column name to type") }}
    {%- endif -%}
    {%- set declared = source(source_name, table_name) -%}
    {%- set existing = adapter.get_relation(declared.database, declared.schema, declared.identifier) if execute else none -%}
    {%- if existing is not none %}
    select
        {%- for name in columns %}
        {{ name }}{{ "," if not loop.last }}
        {%- endfor %}

    from {{ existing }}
    {%- else %}
    -- {{ declared }} does not exist yet: no rows, the same columns
    select
        {%- for name, type in columns.items() %}
        {{ beton.cast_nullable('null', type) }} as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    limit 0
    {%- endif %}
{%- endmacro %}
