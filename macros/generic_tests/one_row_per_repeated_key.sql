{#- Fails with the keys of `repeated` (a relation listing the keys that occur on several input
    rows, in a column of the same name) that are not on exactly one row of the model: the
    deduplication checked on the few keys it concerns, not by grouping every row of the model. -#}
{% test one_row_per_repeated_key(model, column_name, repeated) -%}
select
    {{ column_name }} as key_value,
    count(*) as occurrences

from {{ model }}
where {{ column_name }} in (select {{ column_name }} from {{ repeated }})
group by {{ column_name }}
having count(*) <> 1
{%- endtest %}
