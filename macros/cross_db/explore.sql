{#- What the exploratory views (models/explore/) need beyond the other cross_db macros. -#}

{#- The explore window in days: var beton_explore_days (default 30), a whole number from 1 to
    3660. The window is the N UTC calendar days ending on the as_of date, up to as_of, the
    same definition as a rule's time_window_days. -#}
{% macro explore_days() -%}
    {%- set raw = var('beton_explore_days', 30) -%}
    {%- set text = raw | string | trim -%}
    {%- if raw is boolean or not modules.re.match('^[0-9]+$', text) or (text | int) < 1 or (text | int) > 3660 -%}
        {{ exceptions.raise_compiler_error("var beton_explore_days = '" ~ raw ~ "' is not a whole number of days from 1 to 3660; e.g. --vars '{beton_explore_days: 90}'") }}
    {%- endif -%}
    {{ return(text | int) }}
{%- endmacro %}


{#- The events of the explore window: the beton_explore_days UTC days ending on the as_of date,
    up to as_of (the window every explore view shares). -#}
{% macro explore_window_events() -%}
    {%- set first_day = beton.date_literal(beton.as_of_date_text(beton.explore_days() - 1)) -%}
    select * from {{ ref('int_events') }}
    where event_date >= {{ first_day }}
        and event_at <= {{ beton.timestamp_literal(beton.as_of_text()) }}
{%- endmacro %}


{#- A date plus a whole number of days (an integer expression), as a date of the same type as
    beton.to_date gives. -#}
{% macro add_days(date_expr, days_expr) -%}
    {{ return(adapter.dispatch('add_days', 'beton')(date_expr, days_expr)) }}
{%- endmacro %}

{% macro default__add_days(date_expr, days_expr) -%}
    {{ beton.to_date(dbt.dateadd('day', days_expr, date_expr)) }}
{%- endmacro %}

{#- clickhouse: addDays keeps Date32 (dateadd would go through DateTime and its 1970-2106 range) -#}
{% macro clickhouse__add_days(date_expr, days_expr) -%}
    addDays({{ date_expr }}, {{ days_expr }})
{%- endmacro %}


{#- numerator / denominator as a 64-bit float; null when the denominator is 0 or null
    (never an error, never inf or nan). -#}
{% macro ratio(numerator, denominator) -%}
    {{ return(adapter.dispatch('ratio', 'beton')(numerator, denominator)) }}
{%- endmacro %}

{% macro default__ratio(numerator, denominator) -%}
    cast({{ numerator }} as {{ beton.type_double() }}) / nullif(cast({{ denominator }} as {{ beton.type_double() }}), 0)
{%- endmacro %}
