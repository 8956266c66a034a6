{#- The instant every rule is evaluated at, as UTC text: 'YYYY-MM-DD HH:MM:SS', with
    '.ffffff' when it is not a whole second (microseconds are kept, never truncated: an event
    at exactly as_of counts). var beton_as_of when set; the mock data's reference instant on
    mock input; else the moment this dbt invocation started (one value for every model of the
    run). `beton --as-of` hands it over as env BETON_AS_OF instead of the var, and it is read
    only when executing: a new as_of every run then leaves dbt's partial parse valid (a changed
    --vars, or an env var read while parsing, makes dbt parse the project again). -#}
{% macro as_of_text() -%}
    {%- set raw = var('beton_as_of', none) -%}
    {%- if (raw is none or raw == '') and execute -%}
        {%- set raw = env_var('BETON_AS_OF', '') -%}
    {%- endif -%}
    {%- if raw is none or raw == '' -%}
        {%- if beton.input_mode() == 'mock' -%}
            {%- set raw = var('beton_mock_as_of', '2026-10-01 12:00:00') -%}
        {%- else -%}
            {{ return(beton.instant_text(run_started_at.replace(tzinfo=none))) }}
        {%- endif -%}
    {%- endif -%}
    {{ return(beton.instant_text(beton.parse_instant(raw | string, 'beton_as_of'))) }}
{%- endmacro %}

{% macro as_of_date_text(days_back=0) -%}
    {%- set instant = beton.parse_instant(beton.as_of_text(), 'beton_as_of') -%}
    {{ return((instant.date() - modules.datetime.timedelta(days=days_back)).isoformat()) }}
{%- endmacro %}

{#- A naive UTC datetime as the text timestamp_literal takes: seconds, plus the microseconds
    when there are any (so whole-second instants read as they always did). -#}
{% macro instant_text(instant) -%}
    {%- set fmt = '%Y-%m-%d %H:%M:%S.%f' if instant.microsecond else '%Y-%m-%d %H:%M:%S' -%}
    {{ return(instant.strftime(fmt)) }}
{%- endmacro %}

{#- Parses 'YYYY-MM-DD', 'YYYY-MM-DD HH:MM[:SS[.ffffff]]' and ISO 8601 ('T' or a space, a
    fraction of up to 6 digits, 'Z' or an offset '+HH:MM' / '+HHMM' / '+HH'), as a naive UTC
    datetime: an offset is applied (10:00+02:00 is 08:00 UTC). A fraction finer than a
    microsecond is refused rather than silently rounded (unless the extra digits are zeros). -#}
{% macro parse_instant(text, name) -%}
    {%- set m = modules.re.match('^\\s*(\\d{4})-(\\d{2})-(\\d{2})(?:[ Tt](\\d{2}):(\\d{2})(?::(\\d{2})(?:[.,](\\d+))?)?)?\\s*(?:([Zz])|([+-])(\\d{2})(?::?(\\d{2}))?)?\\s*$', text) -%}
    {%- if m -%}
        {%- set parts = m.groups() -%}
        {%- set y, mo, d = parts[0] | int, parts[1] | int, parts[2] | int -%}
        {%- set h, mi, s = (parts[3] or 0) | int, (parts[4] or 0) | int, (parts[5] or 0) | int -%}
        {%- set fraction = parts[6] or '' -%}
        {%- if fraction | length > 6 and fraction[6:] | replace('0', '') != '' -%}
            {{ exceptions.raise_compiler_error("var " ~ name ~ " = '" ~ text ~ "' has " ~ (fraction | length) ~ " fractional digits, but instants are kept to the microsecond (6 digits); round it, e.g. '" ~ text | replace(fraction, fraction[:6]) ~ "'") }}
        {%- endif -%}
        {%- set micro = (fraction[:6] ~ '000000')[:6] | int -%}
        {%- set off_h, off_m = (parts[9] or 0) | int, (parts[10] or 0) | int -%}
        {%- set month_days = [31, 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] -%}
        {%- if 1 <= mo <= 12 and 1 <= d <= month_days[mo - 1] and h < 24 and mi < 60 and s < 60 and off_h < 24 and off_m < 60 -%}
            {%- set offset = modules.datetime.timedelta(hours=off_h, minutes=off_m) -%}
            {%- set local = modules.datetime.datetime(y, mo, d, h, mi, s, micro) -%}
            {{ return(local + offset if parts[8] == '-' else local - offset) }}
        {%- endif -%}
    {%- endif -%}
    {{ exceptions.raise_compiler_error("var " ~ name ~ " = '" ~ text ~ "' is not an instant; use 'YYYY-MM-DD HH:MM:SS[.ffffff]' (UTC) or ISO 8601 with Z or an offset, e.g. --vars '{" ~ name ~ ": \"2026-10-01 12:00:00\"}' or '2026-10-01T12:00:00.250Z'") }}
{%- endmacro %}
