{#- beton.json_text on every target: strings, numbers, booleans, null, missing keys, keys with
    '$', '.', quotes and backslashes, and unicode; numbers in their canonical text (docs/rules.md). Returns the failing cases. -#}
{%- set doc = '{"plan":"pro","seats":5,"ratio":2.5,"flag":true,"nothing":null,"$current_url":"https://x.io/a?b=1","plan.tier":"gold","it\'s":"quote","back\\\\slash":"bs","say \\"hi\\"":"dq","café":"é ü","nested":{"k":1},"whole":5.0,"exp":1e2,"neg":-2.50,"tiny":1e-7,"small":1.5e-5,"huge":1e21,"big":1e20,"int":-12}' -%}
{%- set cases = [
    ('plan', 'pro'), ('seats', '5'), ('ratio', '2.5'), ('flag', 'true'),
    ('nothing', none), ('missing', none), ('$current_url', 'https://x.io/a?b=1'),
    ('plan.tier', 'gold'), ("it's", 'quote'), ('back\\slash', 'bs'), ('say "hi"', 'dq'), ('café', 'é ü'),
    ('whole', '5'), ('exp', '100'), ('neg', '-2.5'), ('tiny', '1e-7'), ('small', '0.000015'), ('huge', '1e21'),
    ('big', '100000000000000000000'), ('int', '-12'),
] -%}
with cases as (
    {%- for key, expected in cases %}
    select
        {{ beton.string_literal(key) }} as case_key,
        {{ beton.json_text(beton.string_literal(doc), key) }} as actual,
        {{ beton.cast_nullable(beton.string_literal(expected) if expected is not none else 'null', dbt.type_string()) }} as expected
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)
select * from cases
where not ((actual is null and expected is null) or actual = expected)
