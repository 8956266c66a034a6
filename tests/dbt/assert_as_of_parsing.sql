{#- beton.parse_instant accepts the documented forms, to the microsecond, offsets applied. Returns the failing cases. -#}
{%- set cases = [
    ('2026-10-01', '2026-10-01 00:00:00'),
    ('2026-10-01 12:30', '2026-10-01 12:30:00'),
    ('2026-10-01 12:30:45', '2026-10-01 12:30:45'),
    ('2026-10-01T12:30:45Z', '2026-10-01 12:30:45'),
    ('2026-10-01T12:30:45.123+00:00', '2026-10-01 12:30:45.123000'),
    ('2026-11-20T13:37:42.250Z', '2026-11-20 13:37:42.250000'),
    ('2026-11-20T15:37:42.000001+02:00', '2026-11-20 13:37:42.000001'),
    ('2026-11-20T08:07:42.5-0530', '2026-11-20 13:37:42.500000'),
    ('2026-11-21T00:30:00+01', '2026-11-20 23:30:00'),
    ('2024-02-29', '2024-02-29 00:00:00'),
] -%}
with cases as (
    {%- for text, expected in cases %}
    select
        {{ beton.string_literal(text) }} as input,
        {{ beton.string_literal(beton.instant_text(beton.parse_instant(text, 'test'))) }} as actual,
        {{ beton.string_literal(expected) }} as expected
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)
select * from cases where actual != expected
