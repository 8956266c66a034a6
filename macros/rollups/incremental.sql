{#- The first day an incremental run rebuilds, as 'YYYY-MM-DD': the newest day already in
    this model minus var beton_incremental_lookback_days (default 3); none when the model is
    empty (then everything is read). Read with a query before the model's SQL is compiled, so
    the cutoff is a literal the engine can push down to the source scan.

    With a fingerprint (a model whose rows record, in filter_fingerprint, the definition that
    built them): none as well when any row was built by another definition, so the whole
    history is read again. -#}
{% macro incremental_cutoff(date_column, fingerprint=none) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set lookback = beton.incremental_lookback_days() -%}
    {%- if fingerprint is not none -%}
        {%- set stale = run_query('select count(*) from ' ~ this ~ ' where filter_fingerprint != '
            ~ beton.string_literal(fingerprint)).columns[0].values()[0] -%}
        {%- if stale | int > 0 -%}
            {{ return(none) }}
        {%- endif -%}
    {%- endif -%}
    {%- set newest = run_query('select max(' ~ date_column ~ ') from ' ~ this).columns[0].values()[0] -%}
    {%- if newest is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set newest = modules.datetime.date.fromisoformat(newest | string) if newest is string else newest -%}
    {%- set cutoff = (newest - modules.datetime.timedelta(days=lookback)) -%}
    {{ return(cutoff.isoformat()[:10]) }}
{%- endmacro %}


{#- var beton_incremental_lookback_days (default 3): a whole number of days, 0 or more. Checked
    as text, because Jinja's int filter turns 'three' into 0, 2.5 into 2 and true into 1: the
    incremental models would silently re-read the wrong days. -#}
{% macro incremental_lookback_days() -%}
    {%- set raw = var('beton_incremental_lookback_days', 3) -%}
    {%- set text = raw | string | trim -%}
    {%- if raw is boolean or raw is none or not modules.re.match('^[0-9]{1,5}$', text) -%}
        {{ exceptions.raise_compiler_error("var beton_incremental_lookback_days = '" ~ raw ~ "' is not a whole number of days (0 or more, at most 99999); e.g. --vars '{beton_incremental_lookback_days: 3}'") }}
    {%- endif -%}
    {{ return(text | int) }}
{%- endmacro %}
