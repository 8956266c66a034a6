{#- The window every exploratory view (models/explore/) shares. -#}

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


{#- The activity of the explore window: the beton_explore_days UTC days ending on the as_of
    date, up to as_of (the window every explore table shares), as rows of int_explore_activity
    (events counted per date, name, distinct id, user and account: sum `events`, not count rows). -#}
{% macro explore_window_events() -%}
    {%- set first_day = beton.date_literal(beton.as_of_date_text(beton.explore_days() - 1)) -%}
    select * from {{ ref('beton', 'beton_int_explore_activity') }}
    where event_date >= {{ first_day }}
        and not is_after_as_of
{%- endmacro %}
