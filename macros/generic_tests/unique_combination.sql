{#- Fails with the combinations of `columns` that occur more than once, and with those of rows
    where any column of `not_null` is null: a compound key and the columns that must be set, in
    one dbt test node (each node costs dbt a fixed fraction of a second however small the table). -#}
{% test unique_combination(model, columns, not_null=[]) -%}
select {{ columns | join(', ') }}, count(*) as occurrences
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
    {%- for column in not_null %}
    or sum(case when {{ column }} is null then 1 else 0 end) > 0
    {%- endfor %}
{%- endtest %}
