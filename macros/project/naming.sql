{#- Where Beton's models and seeds land. Their custom schemas are namespaced (beton_staging,
    beton_marts, ...: dbt_project.yml), so in a host project they never meet the host's own.

    dbt uses a package's own generate_schema_name for that package's nodes (dbt-core
    parser/base.py, RelationUpdate: a generate_<component>_name macro of an imported package
    applies to that package's nodes; the root project's, or dbt's default, to every other node).
    So this macro decides for Beton's nodes both when Beton is the root project and when it is a
    package, and never for a host's nodes:
    - Beton run on its own (the root project is `beton`): `<target schema>_<layer>`, the
      namespace dropped because the target schema already is it (beton_marts, acme_marts with
      BETON_SCHEMA=acme): the names `beton` and every BI tool have always read.
    - Beton as a package: dbt's default, `<target schema>_beton_<layer>` (analytics_beton_marts).
    A node without a custom schema goes to the target schema, as with dbt's default. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- elif project_name == 'beton' and (custom_schema_name | trim).startswith('beton_') -%}
        {{ target.schema }}_{{ (custom_schema_name | trim)[6:] }}
    {%- else -%}
        {{ target.schema }}_{{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
