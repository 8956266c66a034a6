-- mart_rule_trends adds up: a run's findings are those that entered plus those that stayed,
-- and the run before's findings are those that stayed plus those that exited. Fails with the
-- (rule_key, as_of) rows where either does not hold.
with

trends as (

    select * from {{ ref('beton', 'beton_mart_rule_trends') }}

)

select
    trends.rule_key as rule_key,
    trends.as_of as as_of

from trends
left join trends as previous
    on previous.rule_key = trends.rule_key
    and previous.run_number = trends.run_number - 1
where trends.findings != trends.entered + trends.stayed
    or (trends.run_number > 1 and previous.findings != trends.stayed + trends.exited)
