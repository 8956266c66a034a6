{#- The scalar cross-db macros on every target. Returns the failing cases. -#}
with cases as (
    select 'safe_to_double number' as case_name,
        case when {{ beton.safe_to_double("'12.5'") }} = 12.5 then 1 else 0 end as ok
    union all
    select 'safe_to_double text is null',
        case when {{ beton.safe_to_double("'abc'") }} is null then 1 else 0 end
    union all
    select 'safe_to_double  9  is text',
        case when {{ beton.safe_to_double("' 9 '") }} is null then 1 else 0 end
    union all
    select 'safe_to_double 1_000 is text',
        case when {{ beton.safe_to_double("'1_000'") }} is null then 1 else 0 end
    union all
    select 'safe_to_double nan is text',
        case when {{ beton.safe_to_double("'nan'") }} is null then 1 else 0 end
    union all
    select 'safe_to_double inf is text',
        case when {{ beton.safe_to_double("'inf'") }} is null then 1 else 0 end
    union all
    select 'safe_to_double +5 is text',
        case when {{ beton.safe_to_double("'+5'") }} is null then 1 else 0 end
    union all
    select 'safe_to_double .5 is text',
        case when {{ beton.safe_to_double("'.5'") }} is null then 1 else 0 end
    union all
    select 'safe_to_double 5. is text',
        case when {{ beton.safe_to_double("'5.'") }} is null then 1 else 0 end
    union all
    select 'safe_to_double 007 is text',
        case when {{ beton.safe_to_double("'007'") }} is null then 1 else 0 end
    union all
    select 'safe_to_double 0x10 is text',
        case when {{ beton.safe_to_double("'0x10'") }} is null then 1 else 0 end
    union all
    select 'safe_to_double Infinity is text',
        case when {{ beton.safe_to_double("'Infinity'") }} is null then 1 else 0 end
    union all
    select 'safe_to_double  is text',
        case when {{ beton.safe_to_double("''") }} is null then 1 else 0 end
    union all
    select 'safe_to_double 1e2 is 100',
        case when {{ beton.safe_to_double("'1e2'") }} = 100 then 1 else 0 end
    union all
    select 'safe_to_double -2.50 is -2.5',
        case when {{ beton.safe_to_double("'-2.50'") }} = -2.5 then 1 else 0 end
    union all
    select 'safe_to_double 0 is 0',
        case when {{ beton.safe_to_double("'0'") }} = 0 then 1 else 0 end
    union all
    select 'safe_to_double 1E-2 is 0.01',
        case when {{ beton.safe_to_double("'1E-2'") }} = 0.01 then 1 else 0 end
    union all
    select 'regex partial match',
        case when {{ beton.regex_matches("'sdk 2.4.0'", beton.string_literal('[2-9]\\.\\d')) }} then 1 else 0 end
    union all
    select 'regex no match',
        case when {{ beton.regex_matches("'1.9.0'", beton.string_literal('^[2-9]\\.')) }} then 0 else 1 end
    union all
    select 'contains',
        case when {{ beton.text_contains("'enterprise plan'", "'prise p'") }} then 1 else 0 end
    union all
    select 'contains is case-sensitive',
        case when {{ beton.text_contains("'Enterprise'", "'enterprise'") }} then 0 else 1 end
    union all
    select 'ln',
        case when abs({{ beton.ln('1 + 9') }} - 2.302585092994046) < 1e-12 then 1 else 0 end
    union all
    select 'days_between',
        case when {{ beton.days_between(beton.date_literal('2026-09-25'), beton.date_literal('2026-10-01')) }} = 6 then 1 else 0 end
    union all
    select 'to_date',
        case when {{ beton.to_date(beton.timestamp_literal('2026-09-30 23:59:59')) }} = {{ beton.date_literal('2026-09-30') }} then 1 else 0 end
    union all
    select 'string_literal round trip',
        case when length({{ beton.string_literal("a'b\\c -- ;") }}) = 10 then 1 else 0 end
    union all
    select 'number_literal',
        case when {{ beton.number_literal(0.1) }} + {{ beton.number_literal(2) }} > 2.09 then 1 else 0 end
    union all
    select 'json_object_or_empty bad json',
        case when {{ beton.json_object_or_empty("'not json'") }} = '{}' then 1 else 0 end
    union all
    select 'json_object_or_empty object',
        case when {{ beton.json_object_or_empty("'{\"a\":1}'") }} = '{"a":1}' then 1 else 0 end
)
select * from cases where ok != 1
