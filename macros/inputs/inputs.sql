{#- Where the four input tables come from, and what their columns are called. -#}

{#- "mock" or "source": var beton_input, else env BETON_INPUT, else the default: mock when dbt
    runs with Beton's own profile `beton` (this project on its own: `dbt build`, `beton demo`),
    source otherwise (Beton as a package in a host project: its mock data only when asked).
    dbt_project.yml enables the mock seeds with the same expression. -#}
{% macro input_mode() -%}
    {{ return(var('beton_input', env_var('BETON_INPUT', 'mock' if target.profile_name == 'beton' else 'source'))) }}
{%- endmacro %}

{#- The relation holding an input table: the mock seed on mock input, else the source
    (whose schema and table names come from vars, see _posthog__sources.yml). -#}
{% macro input_relation(table) -%}
    {%- set mode = beton.input_mode() -%}
    {%- if mode == 'mock' -%}
        {{ return(ref('beton', 'beton_mock_' ~ table)) }}
    {%- elif mode == 'source' -%}
        {%- set relation = source('beton_posthog', table) -%}
        {%- if var('beton_source_database', none) -%}
            {%- do beton.check_identifier(relation.database, 'var beton_source_database') -%}
        {%- endif -%}
        {%- do beton.check_identifier(relation.schema, 'var beton_source_schema' if var('beton_source_schema', none) else 'env BETON_RAW_SCHEMA') -%}
        {%- do beton.check_identifier(relation.identifier, 'var beton_' ~ table ~ '_table') -%}
        {{ return(relation) }}
    {%- else -%}
        {{ exceptions.raise_compiler_error("var beton_input = '" ~ mode ~ "' is not supported; use 'mock' (the built-in mock data) or 'source' (your tables, see docs/schema-mapping.md)") }}
    {%- endif -%}
{%- endmacro %}

{#- The quoted name of a logical input column, after schema mapping (var beton_columns). -#}
{% macro input_column(table, column) -%}
    {%- set defaults = {
        'events': ['uuid', 'event', 'distinct_id', 'timestamp', 'properties', 'person_id', 'team_id'],
        'persons': ['id', 'created_at', 'properties', 'is_identified', 'team_id', 'version', 'is_deleted'],
        'person_distinct_id': ['person_id', 'distinct_id', 'team_id', 'version', 'is_deleted'],
        'accounts': ['account_id', 'name', 'domain', 'arr', 'segment', 'owner_email', 'properties'],
    } -%}
    {%- if table not in defaults or column not in defaults[table] -%}
        {{ exceptions.raise_compiler_error("beton.input_column: unknown input column " ~ table ~ "." ~ column) }}
    {%- endif -%}
    {%- set mapping = var('beton_columns', {}) or {} -%}
    {%- if mapping is not mapping -%}
        {{ exceptions.raise_compiler_error("var beton_columns must be a mapping like {events: {timestamp: event_time}}") }}
    {%- endif -%}
    {%- for mapped_table in mapping -%}
        {%- if mapped_table not in defaults -%}
            {{ exceptions.raise_compiler_error("var beton_columns: unknown table '" ~ mapped_table ~ "'; expected one of " ~ (defaults.keys() | list | join(', '))) }}
        {%- endif -%}
        {%- for mapped_column in mapping[mapped_table] -%}
            {%- if mapped_column not in defaults[mapped_table] -%}
                {{ exceptions.raise_compiler_error("var beton_columns." ~ mapped_table ~ ": unknown column '" ~ mapped_column ~ "'; expected one of " ~ (defaults[mapped_table] | join(', '))) }}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- set name = (mapping.get(table) or {}).get(column, column) -%}
    {%- do beton.check_identifier(name, 'var beton_columns.' ~ table ~ '.' ~ column) -%}
    {{ return(adapter.quote(name)) }}
{%- endmacro %}

{#- Names from the schema-mapping vars reach the SQL as quoted identifiers, and adapter.quote does
    not escape a quote inside the name: a name with a quote, a backslash, a dot or a control
    character would change the SQL (or silently name another table). Only letters, digits, _,
    $, - and inner spaces pass. -#}
{% macro check_identifier(name, setting) -%}
    {%- if name is not string or not modules.re.fullmatch('[\\w$](?:[\\w$ -]{0,253}[\\w$])?', name) -%}
        {{ exceptions.raise_compiler_error(setting ~ " = '" ~ name ~ "' is not a plain identifier: use letters, digits, _, $, - and spaces inside (no quotes, backslashes, dots or control characters); see docs/schema-mapping.md") }}
    {%- endif -%}
{%- endmacro %}

{#- The accounts column that event property beton_account_link_property must equal. -#}
{% macro account_link_column() -%}
    {%- set column = var('beton_account_link_column', 'domain') -%}
    {%- set allowed = ['account_id', 'name', 'domain'] -%}
    {%- if column not in allowed -%}
        {{ exceptions.raise_compiler_error("var beton_account_link_column = '" ~ column ~ "' is not supported; use one of " ~ (allowed | join(', ')) ~ " (the logical accounts column; map physical names with beton_columns)") }}
    {%- endif -%}
    {{ return(column) }}
{%- endmacro %}

{#- Accounts from PostHog group analytics: the group type index N whose keys are the account
    ids, or none (events then link through beton_account_link_property only). Events carry
    their key of that group type as the property $group_N (PostHog's own ingestion writes it;
    `beton ingest posthog` keeps it), compared exactly with accounts.account_id.
    var beton_account_group_index: a number 0-4; 'off' for no group link; unset (null) for
    what the last `beton ingest posthog` into the source schema recorded (its sync state row
    'accounts'), which is none for mock input and for tables beton did not load. -#}
{% macro account_group_index() -%}
    {%- set configured = var('beton_account_group_index', none) -%}
    {%- if configured is not none and configured != '' -%}
        {%- if configured in (false, 'off', 'none', 'false') -%}
            {{ return(none) }}
        {%- endif -%}
        {%- if (configured is number or (configured is string and configured.isdigit())) and configured | int in range(5) -%}
            {{ return(configured | int) }}
        {%- endif -%}
        {{ exceptions.raise_compiler_error("var beton_account_group_index = '" ~ configured ~ "' is not supported; use the PostHog group type index 0-4 (events link through their $group_N property), 'off', or leave it unset to follow `beton ingest posthog`; see docs/posthog.md") }}
    {%- endif -%}
    {%- if not execute or beton.input_mode() != 'source' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set events = (graph.sources.values() | selectattr('source_name', 'equalto', 'beton_posthog') | selectattr('package_name', 'equalto', 'beton') | selectattr('name', 'equalto', 'events') | list)[0] -%}
    {%- set state = adapter.get_relation(events.database, events.schema, 'posthog_sync_state') -%}
    {%- if state is none or 'account_group_index' not in (adapter.get_columns_in_relation(state) | map(attribute='name') | list) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set recorded = run_query("select account_group_index from " ~ state ~ " where stream = 'accounts' order by updated_at desc limit 1") -%}
    {%- if recorded.rows | length == 0 or recorded.rows[0][0] is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(recorded.rows[0][0] | int) }}
{%- endmacro %}

{#- With a group link: whether events without a group key (and persons, who have none) also
    link through beton_account_link_property (var beton_account_link_fallback, off by default). -#}
{% macro account_link_fallback() -%}
    {{ return(var('beton_account_link_fallback', false) in (true, 'true', 'True', 1, '1')) }}
{%- endmacro %}

{#- The account key of an event (or person, with for_person) from its properties: the group key
    as it is (group link), else the link property trimmed and lowercased. -#}
{% macro account_key(properties, for_person=false) -%}
    {%- set group_index = beton.account_group_index() -%}
    {%- set by_property = 'lower(trim(' ~ beton.json_text(properties, var('beton_account_link_property', 'company_domain')) ~ '))' -%}
    {%- if group_index is none -%}
        {{ return(by_property) }}
    {%- endif -%}
    {%- set fallback = beton.account_link_fallback() -%}
    {%- if for_person -%}
        {{ return(by_property if fallback else beton.cast_nullable('null', dbt.type_string())) }}
    {%- endif -%}
    {%- set by_group = "nullif(" ~ beton.json_text(properties, '$group_' ~ group_index) ~ ", '')" -%}
    {{ return('coalesce(' ~ by_group ~ ', ' ~ by_property ~ ')' if fallback else by_group) }}
{%- endmacro %}


{#- The rows of an input table that belong to this project: with var beton_team_id set (a
    PostHog ClickHouse shared by several projects), only that team's rows. A where-clause. -#}
{% macro input_team_filter(table) -%}
    {%- set team = var('beton_team_id', none) -%}
    {%- if team is none or team == '' -%}
        {{ return('1 = 1') }}
    {%- endif -%}
    {%- if team is not number and not (team | string).isdigit() -%}
        {{ exceptions.raise_compiler_error("var beton_team_id = '" ~ team ~ "' must be a whole number (the PostHog project/team id)") }}
    {%- endif -%}
    {{ return(beton.input_column(table, 'team_id') ~ ' = ' ~ (team | int)) }}
{%- endmacro %}

{#- The events input rows staging keeps (every key set, this project's team), as a where-clause:
    stg_posthog__events and stg_posthog__repeated_event_uuids read the same rows. -#}
{% macro input_events_with_keys() -%}
    {%- set checks = [] -%}
    {%- for column in ['uuid', 'event', 'distinct_id', 'timestamp'] -%}
        {%- do checks.append(beton.input_column('events', column) ~ ' is not null') -%}
    {%- endfor -%}
    {%- do checks.append(beton.input_team_filter('events')) -%}
    {{ return(checks | join('\n    and ')) }}
{%- endmacro %}

{#- True when persons and person_distinct_id keep versioned rows (PostHog's own ClickHouse tables
    `person` and `person_distinct_id2`): the latest version wins and deleted rows drop out. -#}
{% macro input_is_versioned() -%}
    {%- set flag = var('beton_versioned_persons', false) -%}
    {{ return(flag in (true, 'true', 'True', 1, '1')) }}
{%- endmacro %}

{#- Keeps the latest version of each key and drops it when that version is deleted. The
    relation is a CTE that has the input's own columns. -#}
{% macro latest_versions(relation, table, key_column) -%}
    select * from (
        select
            *,
            row_number() over (
                partition by {{ beton.input_column(table, key_column) }}
                order by {{ beton.input_column(table, 'version') }} desc
            ) as beton_version_rank
        from {{ relation }}
    ) as versions
    where beton_version_rank = 1
        and coalesce(cast({{ beton.input_column(table, 'is_deleted') }} as integer), 0) = 0
{%- endmacro %}


{#- What the incremental rollups are built from, as a short hash stored on every row they write
    (column input_fingerprint): the input mode, the source relations (database when it is not
    the target's own, schema, table names: what _posthog__sources.yml resolved), the schema
    mapping (beton_columns, beton_team_id, beton_versioned_persons) and the account link
    (beton_account_link_property / _column, and the group link when there is one). A run
    whose fingerprint differs from a row's deletes every such row and rolls the whole history
    up again (beton.incremental_cutoff, beton.delete_stale_rows): mock rows never mix with
    source rows, nor one mapping's with another's. `rollup_format` changes when what a rollup row means changes, so stored rollups
    are rebuilt then too. -#}
{% macro input_fingerprint() -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set mode = beton.input_mode() -%}
    {%- set relations = {} -%}
    {%- if mode == 'source' -%}
        {%- for node in graph.sources.values() if node.source_name == 'beton_posthog' and node.package_name == 'beton' -%}
            {%- set database = node.database if node.database != target.database else none -%}
            {%- do relations.update({node.name: [database, node.schema, node.identifier]}) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set team = var('beton_team_id', none) -%}
    {%- set built_from = {
        'rollup_format': 1,
        'input': mode,
        'relations': relations,
        'columns': var('beton_columns', {}) or {},
        'team_id': none if team is none or team == '' else team | string,
        'versioned_persons': beton.input_is_versioned(),
        'account_link_property': var('beton_account_link_property', 'company_domain'),
        'account_link_column': var('beton_account_link_column', 'domain'),
    } -%}
    {%- set group_index = beton.account_group_index() -%}
    {%- if group_index is not none -%}
        {%- do built_from.update({'account_group_index': group_index, 'account_link_fallback': beton.account_link_fallback()}) -%}
    {%- endif -%}
    {{ return(local_md5(tojson(built_from, sort_keys=True))[:16]) }}
{%- endmacro %}
