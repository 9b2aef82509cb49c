{#-
  Naive timestamps an export writes as text ('2024-01-01 10:00:00', São Paulo wall clock, as Olist does).

    wall_clock(column)          the TIMESTAMP; NULL when empty or when the text is no timestamp.
                                A time with a UTC offset ('…Z', '…+00:00', '…-03:00', or a
                                TIMESTAMPTZ column, which reads as text with its offset) is an
                                instant: its São Paulo wall clock (::TIMESTAMP alone drops the
                                offset, so 01:00Z read as 01:00 in São Paulo, 3 hours late);
                                one without seconds ('…T01:00Z', '… 01:00 UTC') too, which
                                DuckDB's TIMESTAMPTZ cast alone would give as NULL
    unreadable_dates(columns)   the fields of the row whose text is there but no timestamp, as
                                'field=text' ('order_purchase_timestamp=2024-02-30 10:00:00',
                                'review_answer_timestamp=25/12/2024 14:30'); [] when all read

  A cast (::TIMESTAMP) would fail the whole model, and every model after it, on one such cell:
  staging reads with wall_clock and lists the unreadable fields (query them there), trusted
  rejects those rows into audit.*_rejected (rule unreadable_date).
  The arguments are column names: wall_clock('order_approved_at'), unreadable_dates(['a', 'b']).
-#}
{%- macro wall_clock(column) -%}
{%- set text = "nullif(trim(" ~ column ~ "::VARCHAR), '')" -%}
{#- A UTC offset, for both patterns below ([0-9], not \d: a Jinja string literal drops backslashes). -#}
{%- set zone = "(z|utc|gmt|[+-][0-9]{2}(:?[0-9]{2})?)" -%}
case when regexp_matches({{ text }}, '\d:\d\d(:\d\d(\.\d+)?)?\s*{{ zone }}$', 'i')
     then timezone('America/Sao_Paulo', try_cast(regexp_replace({{ text }}, '([T ]\d{1,2}:\d\d)(\s*{{ zone }})$', '\1:00\2', 'i') as TIMESTAMPTZ))
     else try_cast({{ text }} as TIMESTAMP) end
{%- endmacro -%}

{%- macro unreadable_dates(columns) -%}
list_filter([
    {%- for c in columns %}
    case when nullif(trim({{ c }}::VARCHAR), '') is not null and {{ wall_clock(c) }} is null then '{{ c }}=' || trim({{ c }}::VARCHAR) end{% if not loop.last %},{% endif %}
    {%- endfor %}
], lambda x: x is not null)
{%- endmacro -%}
