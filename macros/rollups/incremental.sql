{#- The first day an incremental run rebuilds, as 'YYYY-MM-DD': the newest day already in this
    model that is not after the as_of date, minus var beton_incremental_lookback_days (default
    3); none when there is no such day (then everything is read). Bounded by as_of, never by the
    data's max: one event stamped 2030 (a device with a wrong clock) must not move the cutoff
    past every day still to come. Read with a query before the model's SQL is compiled, so the
    cutoff is a literal the engine can push down to the source scan.

    `fingerprints` (column -> value) name what the model's rows record about what built them
    (input_fingerprint: beton.input_fingerprint(); filter_fingerprint: a rule's filter): none as
    well when any row was built from something else, or the table predates such a column, so
    the whole history is read again (and beton.delete_stale_rows, the model's pre-hook, deletes
    those rows). -#}
{% macro incremental_cutoff(date_column, fingerprints={}) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set lookback = beton.incremental_lookback_days() -%}
    {%- if fingerprints -%}
        {%- if beton.missing_fingerprint_columns(fingerprints) -%}
            {{ return(none) }}
        {%- endif -%}
        {%- set stale = run_query('select count(*) from ' ~ this ~ ' where '
            ~ beton.stale_rows_predicate(fingerprints)).columns[0].values()[0] -%}
        {%- if stale | int > 0 -%}
            {{ return(none) }}
        {%- endif -%}
    {%- endif -%}
    {%- set newest = run_query('select max(' ~ date_column ~ ') from ' ~ this ~ ' where ' ~ date_column
        ~ ' <= ' ~ beton.date_literal(beton.as_of_date_text())).columns[0].values()[0] -%}
    {%- if newest is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set newest = modules.datetime.date.fromisoformat(newest | string) if newest is string else newest -%}
    {%- if newest.year < 1971 -%}
        {#- ClickHouse's max() over no rows is the zero date, not NULL -#}
        {{ return(none) }}
    {%- endif -%}
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


{#- The fingerprint columns `this` does not have yet (a table built by an earlier version). -#}
{% macro missing_fingerprint_columns(fingerprints) -%}
    {%- set existing = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {{ return(fingerprints.keys() | reject('in', existing) | list) }}
{%- endmacro %}


{#- Rows built from something else than `fingerprints` (column -> value) say. -#}
{% macro stale_rows_predicate(fingerprints) -%}
    {%- set tests = [] -%}
    {%- for column, value in fingerprints.items() | sort -%}
        {%- do tests.append("coalesce(" ~ column ~ ", '') != " ~ beton.string_literal(value)) -%}
    {%- endfor -%}
    {{ return(tests | join(' or ')) }}
{%- endmacro %}


{#- An incremental rollup's pre-hook: rows built from another input or filter are deleted before
    the model runs (beton.incremental_cutoff has already chosen to read the whole history, so the
    run rebuilds everything they held; in the same transaction on DuckDB). A table from before a
    fingerprint column existed gets the column first (then every row is stale). `added_columns`
    (new column -> an existing column of the same type) are columns a later version added: a
    table without them gets them too, so on_schema_change='fail' still guards everything else;
    the version that adds one also adds a fingerprint column (int_daily_activity's
    rollup_layout), so no old row stays. One read of the table's columns serves both. -#}
{% macro delete_stale_rows(fingerprints, added_columns={}) -%}
    {%- if is_incremental() and execute -%}
        {%- set existing = {} -%}
        {%- for column in adapter.get_columns_in_relation(this) -%}
            {%- do existing.update({column.name | lower: column}) -%}
        {%- endfor -%}
        {%- set columns = [] -%}
        {%- for column in fingerprints.keys() if column not in existing -%}
            {%- do columns.append(api.Column.create(column, dbt.type_string())) -%}
        {%- endfor -%}
        {%- for name, like in added_columns.items() if name not in existing and like in existing -%}
            {%- do columns.append(api.Column.create(name, existing[like].data_type)) -%}
        {%- endfor -%}
        {%- if columns -%}
            {%- set relation = adapter.get_relation(this.database, this.schema, this.identifier) -%}
            {%- do alter_relation_add_remove_columns(relation, columns, none) -%}
        {%- endif -%}
        {{ beton.delete_rows(this, beton.stale_rows_predicate(fingerprints)) }}
    {%- endif -%}
{%- endmacro %}
