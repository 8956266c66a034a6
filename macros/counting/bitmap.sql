{#- count(distinct index_expr) for an integer index in 0 .. size-1, as an aggregate over
    ceil(size / 64) 64-bit masks: each row ORs in its bit, the answer is the number of bits set.
    Exact, and several times cheaper than a distinct aggregate (no hash set per group): rules
    count active days (the day's offset in the window) and distinct events (the name's index in
    int_event_names) this way. Rows whose index is null or outside 0 .. size-1 are ignored; the
    caller counts those some other way. -#}
{% macro bitmap_distinct_count(index_expr, size) -%}
    {%- set words = ((size | int) + 63) // 64 -%}
(
    {%- for word in range(words) %}
    {%- set low = 64 * word %}
    {%- set position -%}{{ index_expr }} - {{ low }}{%- endset %}
    {%- set word_bits -%}
case
        when {{ index_expr }} >= {{ low }}
            and {{ index_expr }} < {{ low + 64 }}
            then {{ beton.bit_flag(position) }}
    end
    {%- endset %}
    {{ '+ ' if not loop.first }}cast(coalesce({{ beton.bit_count(beton.bit_or_agg(word_bits)) }}, 0) as {{ dbt.type_bigint() }})
    {%- endfor %}
)
{%- endmacro %}


{#- How many event-name indexes rules count with masks: int_event_names' size rounded up to a
    whole 64-bit word, at most 256. Read when the rule is compiled (during a run, right after
    int_event_names was rebuilt); when it cannot be read (parsing, or a bare `dbt compile` on an
    empty warehouse) the maximum. Names past it, or missing from the dictionary, are counted
    by a distinct aggregate over just their rows, so the count is exact either way. -#}
{% macro event_name_bitmap_size(relations) -%}
    {%- set most = 256 -%}
    {%- if not execute -%}
        {{ return(most) }}
    {%- endif -%}
    {%- set relation = load_relation(relations['event_names']) -%}
    {%- if relation is none -%}
        {{ return(most) }}
    {%- endif -%}
    {%- set names = run_query('select count(*) from ' ~ relation).columns[0].values()[0] | int -%}
    {{ return([[((names + 63) // 64) * 64, 64] | max, most] | min) }}
{%- endmacro %}

{#- Windows up to this many days count active days with masks; longer ones use count(distinct). -#}
{% macro day_bitmap_max_days() -%}
    {{ return(512) }}
{%- endmacro %}
