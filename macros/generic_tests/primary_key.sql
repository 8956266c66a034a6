{#- Fails with the values of `column_name` that are null or occur more than once, and with the
    key values of rows where any column of `not_null` is null: a primary key and the columns
    that must be set, checked in one pass. On a view over every event this is one scan where
    `unique` plus a `not_null` per column are one scan each. -#}
{% test primary_key(model, column_name, not_null=[]) -%}
select
    {{ column_name }} as key_value,
    count(*) as occurrences

from {{ model }}
group by {{ column_name }}
having count(*) > 1
    or {{ column_name }} is null
    {%- for column in not_null %}
    or sum(case when {{ column }} is null then 1 else 0 end) > 0
    {%- endfor %}
{%- endtest %}
