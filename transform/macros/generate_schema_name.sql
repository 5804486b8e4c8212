{#- Layers get plain schema names (staging, intermediate, marts), not <target>_<layer>. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name if custom_schema_name is not none else target.schema }}
{%- endmacro %}
