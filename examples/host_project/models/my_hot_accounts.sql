-- The accounts Beton's rules flagged, from its unified findings table: one row per account,
-- how many rules flagged it and its best score.
with findings as (

    select * from {{ ref('beton', 'insp_findings') }}
    where account_id is not null

),

final as (

    select
        account_id,
        count(distinct rule_key) as rules_matched,
        max(score) as best_score

    from findings
    group by account_id

)

select * from final
