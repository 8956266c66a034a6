-- The host's own dim_accounts: another model of the same name as Beton's (beton_dim_accounts,
-- table dim_accounts in <schema>_beton_marts), which neither takes over.
select
    'acct-1' as account_key,
    'Acme Corp' as company_name,
    'enterprise' as tier
