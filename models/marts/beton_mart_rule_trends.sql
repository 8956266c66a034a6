{{ config(alias='mart_rule_trends', order_by=['rule_key', 'as_of']) }}
{#- Findings per rule per run, for trend charts: one row per (rule, as_of) the history records,
    with how many findings entered, exited and stayed at that run. Only runs on the input of the
    latest recorded run (its input_fingerprint): runs on other inputs (the mock data before a
    real source) are not comparable, as in insp_finding_changes. -#}

with

runs as (

    select * from {{ ref('beton', 'insp_rule_runs') }}

),

latest_input as (

    -- the input the latest run (the greatest computed_at) read
    select input_fingerprint

    from runs
    order by computed_at desc, as_of desc
    limit 1

),

rule_runs as (

    select
        runs.as_of as as_of,
        runs.rule_key as rule_key,
        runs.rule_name as rule_name,
        runs.level as level,
        runs.findings as findings,
        row_number() over (partition by runs.rule_key order by runs.as_of) as run_number

    from runs
    inner join latest_input
        on runs.input_fingerprint = latest_input.input_fingerprint

),

change_counts as (

    select
        changes.as_of as as_of,
        changes.rule_key as rule_key,
        sum(case when changes.change = 'entered' then 1 else 0 end) as entered,
        sum(case when changes.change = 'exited' then 1 else 0 end) as exited,
        sum(case when changes.change = 'stayed' then 1 else 0 end) as stayed

    from {{ ref('beton', 'insp_finding_changes') }} as changes
    inner join latest_input
        on changes.input_fingerprint = latest_input.input_fingerprint
    group by changes.as_of, changes.rule_key

),

final as (

    select
        rule_runs.rule_key as rule_key,
        rule_runs.as_of as as_of,
        rule_runs.rule_name as rule_name,
        rule_runs.level as level,
        cast(rule_runs.run_number as {{ dbt.type_bigint() }}) as run_number,
        cast(rule_runs.findings as {{ dbt.type_bigint() }}) as findings,
        cast(coalesce(change_counts.entered, 0) as {{ dbt.type_bigint() }}) as entered,
        cast(coalesce(change_counts.exited, 0) as {{ dbt.type_bigint() }}) as exited,
        cast(coalesce(change_counts.stayed, 0) as {{ dbt.type_bigint() }}) as stayed

    from rule_runs
    left join change_counts
        on rule_runs.as_of = change_counts.as_of
        and rule_runs.rule_key = change_counts.rule_key

)

select * from final
