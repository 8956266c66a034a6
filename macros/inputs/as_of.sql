{#- The instant every rule is evaluated at, as 'YYYY-MM-DD HH:MM:SS' (UTC).
    var beton_as_of when set; the mock data's reference instant on mock input; else the moment
    this dbt invocation started (one value for every model of the run). -#}
{% macro as_of_text() -%}
    {%- set raw = var('beton_as_of', none) -%}
    {%- if raw is none or raw == '' -%}
        {%- if beton.input_mode() == 'mock' -%}
            {%- set raw = var('beton_mock_as_of') -%}
        {%- else -%}
            {{ return(run_started_at.strftime('%Y-%m-%d %H:%M:%S')) }}
        {%- endif -%}
    {%- endif -%}
    {{ return(beton.parse_instant(raw | string, 'beton_as_of').strftime('%Y-%m-%d %H:%M:%S')) }}
{%- endmacro %}

{% macro as_of_date_text(days_back=0) -%}
    {%- set instant = beton.parse_instant(beton.as_of_text(), 'beton_as_of') -%}
    {{ return((instant.date() - modules.datetime.timedelta(days=days_back)).isoformat()) }}
{%- endmacro %}

{#- Parses 'YYYY-MM-DD', 'YYYY-MM-DD HH:MM:SS' or ISO 8601 with 'T' and an optional 'Z' /
    '+00:00' suffix and fraction. Other offsets are rejected rather than silently shifted. -#}
{% macro parse_instant(text, name) -%}
    {%- set m = modules.re.match('^\\s*(\\d{4})-(\\d{2})-(\\d{2})(?:[ T](\\d{2}):(\\d{2})(?::(\\d{2})(?:\\.\\d+)?)?)?(?:Z|\\+00:00)?\\s*$', text) -%}
    {%- if m -%}
        {%- set parts = m.groups() -%}
        {%- set y, mo, d = parts[0] | int, parts[1] | int, parts[2] | int -%}
        {%- set h, mi, s = (parts[3] or 0) | int, (parts[4] or 0) | int, (parts[5] or 0) | int -%}
        {%- set month_days = [31, 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] -%}
        {%- if 1 <= mo <= 12 and 1 <= d <= month_days[mo - 1] and h < 24 and mi < 60 and s < 60 -%}
            {{ return(modules.datetime.datetime(y, mo, d, h, mi, s)) }}
        {%- endif -%}
    {%- endif -%}
    {{ exceptions.raise_compiler_error("var " ~ name ~ " = '" ~ text ~ "' is not a UTC instant; use 'YYYY-MM-DD HH:MM:SS' (UTC), e.g. --vars '{" ~ name ~ ": \"2026-10-01 12:00:00\"}'") }}
{%- endmacro %}
