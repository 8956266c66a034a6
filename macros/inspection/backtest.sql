{#- `beton backtest` (beton_runner/backtest.py; docs/backtest.md): one rule at one as_of, and what
    happened after it. One row per entity of the rule's eligible population — the users (or
    accounts) with any event in the rule's window at as_of — with `flagged` (on the rule's punch
    list at as_of: the rule's own SQL, exactly what `beton run` at that as_of builds) and
    `converted_at` (its first conversion event in the horizon, as_of < event_at <= as_of +
    horizon_days; null when none). Read with `dbt compile --inline`; never a model. -#}
{% macro backtest_sql(rule, conversion_events, horizon_days) -%}
    {%- set entity = 'account_id' if rule['level'] == 'account' else 'user_id' -%}
    {%- set as_of_instant = beton.parse_instant(beton.as_of_text(), 'beton_as_of') -%}
    {%- set as_of = beton.timestamp_literal(beton.as_of_text()) -%}
    {%- set horizon_end = beton.timestamp_literal(beton.instant_text(as_of_instant + modules.datetime.timedelta(days=horizon_days | int))) -%}
    {%- set events = ref('beton', 'beton_int_events') -%}
-- Backtest of rule {{ rule['key'] }} at as_of {{ beton.as_of_text() }} (UTC): its eligible
-- {{ rule['level'] }}s, whether the rule flagged them, and their first conversion event in the
-- {{ horizon_days | int }} day(s) after as_of

with

-- the rule's punch list at as_of: the SQL of its model, unchanged
punch_list as (

    select {{ entity }} as entity_id
    from (
        {{ beton.inspection_model(rule) | indent(8) }}
    ) as rule_punch_list

),

-- the eligible population: every {{ rule['level'] }} with any event in the rule's window
-- (the {{ rule['time_window_days'] }} UTC day(s) ending on the as_of date, up to as_of)
eligible as (

    select distinct {{ entity }} as entity_id
    from {{ events }}
    where event_date > {{ beton.date_literal(beton.as_of_date_text(rule['time_window_days'] | int)) }}
        and event_at <= {{ as_of }}
        {%- if entity == 'account_id' %}
        and account_id is not null
        {%- endif %}

),

-- the first conversion event of each {{ rule['level'] }} after as_of, within the horizon
conversions as (

    select
        {{ entity }} as entity_id,
        min(event_at) as converted_at
    from {{ events }}
    where event_name in (
        {%- for name in conversion_events %}{{ beton.string_literal(name) }}{{ ', ' if not loop.last }}{% endfor -%}
    )
        and event_at > {{ as_of }}
        and event_at <= {{ horizon_end }}
        {%- if entity == 'account_id' %}
        and account_id is not null
        {%- endif %}
    group by {{ entity }}

),

final as (

    select
        eligible.entity_id as entity_id,
        case when eligible.entity_id in (select entity_id from punch_list) then 1 else 0 end as flagged,
        conversions.converted_at as converted_at
    from eligible
    left join conversions
        on eligible.entity_id = conversions.entity_id

)

select * from final
{%- endmacro %}
