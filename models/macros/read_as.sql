{#-
  Numbers an export may write as text that is no number ('12,50', 'R$ 5', 'cinco'): one such
  cell made the column text, and a cast (price::DECIMAL(18, 2)) failed the whole model and every
  model after it.

    read_as(column, type)          try_cast(column AS type): NULL when empty or not a `type`
    unreadable_as(columns, type)   the fields of the row written but not a `type`, as
                                   'field=text' ('price=12,50'); [] when all read

  Staging reads with read_as and lists the unreadable fields (query them there); trusted rejects
  those rows into audit.*_rejected (rule unreadable_number). Dates: macros/wall_clock.sql.
  The arguments are a column name and a SQL type: read_as('price', 'DECIMAL(18, 2)').
-#}
{%- macro read_as(column, type) -%}
try_cast({{ column }} as {{ type }})
{%- endmacro -%}

{%- macro unreadable_as(columns, type) -%}
list_filter([
    {%- for c in columns %}
    case when nullif(trim({{ c }}::VARCHAR), '') is not null and {{ read_as(c, type) }} is null then '{{ c }}=' || trim({{ c }}::VARCHAR) end{% if not loop.last %},{% endif %}
    {%- endfor %}
], lambda x: x is not null)
{%- endmacro -%}
