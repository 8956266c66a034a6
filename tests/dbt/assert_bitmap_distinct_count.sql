{#- beton.bitmap_distinct_count equals count(distinct) over the indexes in 0 .. size-1, across
    word boundaries (63/64, 127/128, 511), with duplicates, nulls and out-of-range values, on
    every target. Returns the failing groups. -#}
{%- set rows = [] -%}
{%- for i in range(90) -%}
    {%- do rows.append((i % 4, (i * 37) % 700 - 5)) -%}
{%- endfor -%}
{%- do rows.extend([(0, 63), (0, 64), (0, 63), (1, 127), (1, 128), (2, 511), (2, 0), (3, none)]) -%}
with

cases as (
    {%- for group_id, index in rows %}
    select {{ group_id }} as group_id, {{ beton.cast_nullable('null' if index is none else index | string, dbt.type_int()) }} as idx
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

counted as (
    select
        group_id,
        {{ beton.bitmap_distinct_count('idx', 512) }} as bits_512,
        count(distinct case when idx >= 0 and idx < 512 then idx end) as expected_512,
        {{ beton.bitmap_distinct_count('idx', 64) }} as bits_64,
        count(distinct case when idx >= 0 and idx < 64 then idx end) as expected_64
    from cases
    group by group_id
)

select * from counted
where bits_512 != expected_512
    or bits_64 != expected_64
