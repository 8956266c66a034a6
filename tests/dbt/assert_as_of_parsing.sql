{#- beton.parse_instant accepts the documented forms. Returns the failing cases. -#}
{%- set cases = [
    ('2026-10-01', '2026-10-01 00:00:00'),
    ('2026-10-01 12:30', '2026-10-01 12:30:00'),
    ('2026-10-01 12:30:45', '2026-10-01 12:30:45'),
    ('2026-10-01T12:30:45Z', '2026-10-01 12:30:45'),
    ('2026-10-01T12:30:45.123+00:00', '2026-10-01 12:30:45'),
    ('2024-02-29', '2024-02-29 00:00:00'),
] -%}
with cases as (
    {%- for text, expected in cases %}
    select
        {{ beton.string_literal(text) }} as input,
        {{ beton.string_literal(beton.parse_instant(text, 'test').strftime('%Y-%m-%d %H:%M:%S')) }} as actual,
        {{ beton.string_literal(expected) }} as expected
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)
select * from cases where actual != expected
