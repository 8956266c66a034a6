{#- The first day an incremental run rebuilds, as 'YYYY-MM-DD': the newest day already in
    this model minus var beton_incremental_lookback_days (default 3); none when the model is
    empty (then everything is read). Read with a query before the model's SQL is compiled, so
    the cutoff is a literal the engine can push down to the source scan. -#}
{% macro incremental_cutoff(date_column) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set lookback = var('beton_incremental_lookback_days', 3) | int -%}
    {%- if lookback < 0 -%}
        {{ exceptions.raise_compiler_error("var beton_incremental_lookback_days must be 0 or more, not " ~ lookback) }}
    {%- endif -%}
    {%- set newest = run_query('select max(' ~ date_column ~ ') from ' ~ this).columns[0].values()[0] -%}
    {%- if newest is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set newest = modules.datetime.date.fromisoformat(newest | string) if newest is string else newest -%}
    {%- set cutoff = (newest - modules.datetime.timedelta(days=lookback)) -%}
    {{ return(cutoff.isoformat()[:10]) }}
{%- endmacro %}
