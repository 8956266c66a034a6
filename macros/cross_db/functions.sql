{#- Scalar functions whose spelling or semantics differ between engines. -#}

{#- A number from text, or null when the text is not a number. A number is JSON number syntax,
    the whole text, nothing around it (docs/rules.md, "Property values"): -?(0|[1-9][0-9]*),
    an optional fraction .[0-9]+, an optional exponent [eE][+-]?[0-9]+. So ' 9 ', '1_000',
    'nan', 'inf', '+5', '.5', '5.', '007' and '0x10' are text on every engine (each engine's own
    cast accepts some of them). -#}
{% macro safe_to_double(expr) -%}
    {{ return(adapter.dispatch('safe_to_double', 'beton')(expr)) }}
{%- endmacro %}

{% macro number_pattern() -%}
    {{ return("'^-?(0|[1-9][0-9]*)([.][0-9]+)?([eE][+-]?[0-9]+)?$'") }}
{%- endmacro %}

{% macro default__safe_to_double(expr) -%}
    case when {{ beton.regex_matches(expr, beton.number_pattern()) }} then try_cast({{ expr }} as {{ beton.type_double() }}) end
{%- endmacro %}

{#- clickhouse: no try_cast; toFloat64OrNull behind the same pattern -#}
{% macro clickhouse__safe_to_double(expr) -%}
    if({{ beton.regex_matches('toString(' ~ expr ~ ')', beton.number_pattern()) }}, toFloat64OrNull(toString({{ expr }})), null)
{%- endmacro %}


{#- True when the RE2 pattern matches part of the text (unanchored). -#}
{% macro regex_matches(expr, pattern_literal) -%}
    {{ return(adapter.dispatch('regex_matches', 'beton')(expr, pattern_literal)) }}
{%- endmacro %}

{% macro default__regex_matches(expr, pattern_literal) -%}
    {{ exceptions.raise_compiler_error("beton.regex_matches is not implemented for adapter '" ~ adapter.type() ~ "'") }}
{%- endmacro %}

{% macro duckdb__regex_matches(expr, pattern_literal) -%}
    regexp_matches({{ expr }}, {{ pattern_literal }})
{%- endmacro %}

{% macro clickhouse__regex_matches(expr, pattern_literal) -%}
    match({{ expr }}, {{ pattern_literal }})
{%- endmacro %}


{#- True when the text contains the substring (case-sensitive). -#}
{% macro text_contains(expr, substring_literal) -%}
    {{ return(adapter.dispatch('text_contains', 'beton')(expr, substring_literal)) }}
{%- endmacro %}

{% macro default__text_contains(expr, substring_literal) -%}
    {{ dbt.position(substring_literal, expr) }} > 0
{%- endmacro %}


{#- Natural logarithm. -#}
{% macro ln(expr) -%}
    {{ return(adapter.dispatch('ln', 'beton')(expr)) }}
{%- endmacro %}

{% macro default__ln(expr) -%}
    ln({{ expr }})
{%- endmacro %}


{#- The UTC calendar date of a timestamp. -#}
{% macro to_date(expr) -%}
    {{ return(adapter.dispatch('to_date', 'beton')(expr)) }}
{%- endmacro %}

{% macro default__to_date(expr) -%}
    cast({{ expr }} as date)
{%- endmacro %}

{#- clickhouse: Date32 so dates before 1970 stay representable -#}
{% macro clickhouse__to_date(expr) -%}
    toDate32({{ expr }}, 'UTC')
{%- endmacro %}


{#- Whole days from one date to a later one. -#}
{% macro days_between(start_date, end_date) -%}
    {{ return(adapter.dispatch('days_between', 'beton')(start_date, end_date)) }}
{%- endmacro %}

{% macro default__days_between(start_date, end_date) -%}
    {{ dbt.datediff(start_date, end_date, 'day') }}
{%- endmacro %}

{#- duckdb: date - date is the whole days between them (dbt.datediff casts both to timestamps) -#}
{% macro duckdb__days_between(start_date, end_date) -%}
    cast(({{ end_date }}) - ({{ start_date }}) as bigint)
{%- endmacro %}


{#- A timestamp column in UTC without a zone attached. -#}
{% macro to_utc_timestamp(expr) -%}
    {{ return(adapter.dispatch('to_utc_timestamp', 'beton')(expr)) }}
{%- endmacro %}

{#- duckdb: the profile sets TimeZone=UTC, so TIMESTAMPTZ casts to its UTC wall time -#}
{% macro default__to_utc_timestamp(expr) -%}
    cast({{ expr }} as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro clickhouse__to_utc_timestamp(expr) -%}
    toDateTime64({{ expr }}, 6, 'UTC')
{%- endmacro %}


{#- Cast that keeps nulls possible (ClickHouse types are not nullable unless said so). -#}
{% macro cast_nullable(expr, type) -%}
    {{ return(adapter.dispatch('cast_nullable', 'beton')(expr, type)) }}
{%- endmacro %}

{% macro default__cast_nullable(expr, type) -%}
    cast({{ expr }} as {{ type }})
{%- endmacro %}

{% macro clickhouse__cast_nullable(expr, type) -%}
    cast({{ expr }}, 'Nullable({{ type }})')
{%- endmacro %}


{#- A boolean from a boolean, 0/1 or 'true'/'false' column. -#}
{% macro to_boolean(expr) -%}
    {{ return(adapter.dispatch('to_boolean', 'beton')(expr)) }}
{%- endmacro %}

{% macro default__to_boolean(expr) -%}
    cast({{ expr }} as boolean)
{%- endmacro %}

{#- clickhouse: Bool accepts UInt8 and 'true'/'false' text -#}
{% macro clickhouse__to_boolean(expr) -%}
    cast({{ expr }}, 'Bool')
{%- endmacro %}


{#- A 64-bit float (dbt.type_float() is 32-bit on some adapters, too coarse for scores). -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'beton')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    {{ return('double precision') }}
{%- endmacro %}

{% macro clickhouse__type_double() -%}
    {{ return('Float64') }}
{%- endmacro %}


{#- Drops the Nullable wrapper of an expression already filtered to non-null values, so it can be
    part of a sort key. -#}
{% macro assume_not_null(expr) -%}
    {{ return(adapter.dispatch('assume_not_null', 'beton')(expr)) }}
{%- endmacro %}

{% macro default__assume_not_null(expr) -%}
    {{ expr }}
{%- endmacro %}

{#- clickhouse: sort keys cannot be Nullable -#}
{% macro clickhouse__assume_not_null(expr) -%}
    assumeNotNull({{ expr }})
{%- endmacro %}


{#- The first instant (UTC) of a date, as a timestamp comparable with event times. -#}
{% macro start_of_day(date_expr) -%}
    {{ return(adapter.dispatch('start_of_day', 'beton')(date_expr)) }}
{%- endmacro %}

{% macro default__start_of_day(date_expr) -%}
    cast({{ date_expr }} as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro clickhouse__start_of_day(date_expr) -%}
    toDateTime64({{ date_expr }}, 6, 'UTC')
{%- endmacro %}


{#- Query settings a view must carry so that it means the same whoever queries it. -#}
{% macro view_settings() -%}
    {{ return(adapter.dispatch('view_settings', 'beton')()) }}
{%- endmacro %}

{% macro default__view_settings() -%}
{%- endmacro %}

{#- clickhouse: a view runs with the reader's settings; its outer joins must give NULLs (as in
    the profile) even for a BI tool that does not set join_use_nulls -#}
{% macro clickhouse__view_settings() -%}
    settings join_use_nulls = 1
{%- endmacro %}


{#- Bit aggregates for exact distinct counts over small integer domains (see
    beton.bitmap_distinct_count). bit_flag(n) is 1 << n for n in 0..63 (clamped, so an engine
    that evaluates every branch of a CASE never shifts out of range). -#}
{% macro bit_flag(position_expr) -%}
    {{ return(adapter.dispatch('bit_flag', 'beton')(position_expr)) }}
{%- endmacro %}

{% macro default__bit_flag(position_expr) -%}
    (cast(1 as ubigint) << cast(greatest(0, least(63, {{ position_expr }})) as integer))
{%- endmacro %}

{% macro clickhouse__bit_flag(position_expr) -%}
    bitShiftLeft(toUInt64(1), toUInt8(greatest(0, least(63, {{ position_expr }}))))
{%- endmacro %}

{% macro bit_or_agg(expr) -%}
    {{ return(adapter.dispatch('bit_or_agg', 'beton')(expr)) }}
{%- endmacro %}

{% macro default__bit_or_agg(expr) -%}
    bit_or({{ expr }})
{%- endmacro %}

{% macro clickhouse__bit_or_agg(expr) -%}
    groupBitOr({{ expr }})
{%- endmacro %}

{% macro bit_count(expr) -%}
    {{ return(adapter.dispatch('bit_count', 'beton')(expr)) }}
{%- endmacro %}

{% macro default__bit_count(expr) -%}
    bit_count({{ expr }})
{%- endmacro %}

{% macro clickhouse__bit_count(expr) -%}
    bitCount({{ expr }})
{%- endmacro %}


{#- Physical order for a table built by a select: DuckDB keeps insertion order, so ordering by
    the columns readers filter on (the day) lets its zone maps skip the rest; ClickHouse sorts
    by the table's ORDER BY (the model's order_by config) anyway, so nothing is added there. -#}
{% macro cluster_by(columns) -%}
    {{ return(adapter.dispatch('cluster_by', 'beton')(columns)) }}
{%- endmacro %}

{% macro default__cluster_by(columns) -%}
    order by {{ columns | join(', ') }}
{%- endmacro %}

{% macro clickhouse__cluster_by(columns) -%}
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


{#- A timestamp as ISO 8601 text in UTC to the microsecond: 'YYYY-MM-DDTHH:MM:SS.ffffffZ'
    (the same text on every engine, e.g. in ids). -#}
{% macro timestamp_text(expr) -%}
    {{ return(adapter.dispatch('timestamp_text', 'beton')(expr)) }}
{%- endmacro %}

{% macro default__timestamp_text(expr) -%}
    strftime({{ expr }}, '%Y-%m-%dT%H:%M:%S.%fZ')
{%- endmacro %}

{% macro clickhouse__timestamp_text(expr) -%}
    formatDateTime(toDateTime64({{ expr }}, 6, 'UTC'), '%Y-%m-%dT%H:%i:%S.%fZ', 'UTC')
{%- endmacro %}


{#- `delete from relation where predicate`, the statement of every delete pre-hook. ClickHouse:
    a lightweight DELETE, ON CLUSTER when the profile names a `cluster` (dbt-clickhouse's own
    on_cluster_clause, as its DDL uses), so every shard and replica deletes. -#}
{% macro delete_rows(relation, predicate) -%}
    {{ return(adapter.dispatch('delete_rows', 'beton')(relation, predicate)) }}
{%- endmacro %}

{% macro default__delete_rows(relation, predicate) -%}
    delete from {{ relation }} where {{ predicate }}
{%- endmacro %}

{% macro clickhouse__delete_rows(relation, predicate) -%}
    {#- on_cluster_clause only at execution: while parsing, dbt-clickhouse's cluster name is a stub -#}
    delete from {{ relation }} {{ on_cluster_clause(relation) if execute }}where {{ predicate }}
{%- endmacro %}
