{#- Fails with the values of `column_name` that are null or occur more than once, with the key
    values of rows where any column of `not_null` is null, and with the repeated values of each
    column of `unique` (another key of the same rows, e.g. a punch list's entity id beside its
    rank; nulls allowed there, as dbt's `unique` allows them): a model's keys and the columns
    that must be set, checked in one dbt test node. On a view over every event this is one scan
    where `unique` plus a `not_null` per column are one scan each; on a small table it saves
    dbt's fixed cost per test node. -#}
{% test primary_key(model, column_name, not_null=[], unique=[]) -%}
select
    {{ beton.cast_nullable(column_name, dbt.type_string()) }} as key_value,
    count(*) as occurrences

from {{ model }}
group by {{ column_name }}
having count(*) > 1
    or {{ column_name }} is null
    {%- for column in not_null %}
    or sum(case when {{ column }} is null then 1 else 0 end) > 0
    {%- endfor %}
{%- for column in unique %}

union all

select
    {{ beton.cast_nullable(column, dbt.type_string()) }} as key_value,
    count(*) as occurrences

from {{ model }}
where {{ column }} is not null
group by {{ column }}
having count(*) > 1
{%- endfor %}
{%- endtest %}
