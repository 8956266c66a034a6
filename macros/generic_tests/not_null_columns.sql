{#- Fails with the rows where any of `columns` is null: the not_null tests of one model's columns
    in one query and one dbt node (each test node costs dbt a fixed fraction of a second however
    small the table; docs/benchmarks.md). -#}
{% test not_null_columns(model, columns) -%}
select *
from {{ model }}
where
    {%- for column in columns %}
    {{ 'or ' if not loop.first }}{{ column }} is null
    {%- endfor %}
{%- endtest %}
