{#-
  Pack size of a retail product, parsed from its name (Brazilian supermarket conventions).

  pack_size(name, measurement_unit=none, unit_multiplier=none) renders ONE DuckDB expression
  (no subquery) of type
      STRUCT(pack_qty INTEGER, unit VARCHAR, net_amount DOUBLE, parsed_from VARCHAR)
  where
      pack_qty     items in the pack (1 when the name gives no multiplier)
      unit         'kg' | 'l' | 'un'   (g and mg are converted to kg; ml and cl to l)
      net_amount   TOTAL quantity of the pack in that unit: 12x395g -> 4.74 (kg)
      parsed_from  'name' | 'measurement_unit' | 'default'
  The arguments are SQL expressions (column names): pack_size('product_name').
  pack_qty(), pack_unit(), pack_net_amount() return one field each.

  Rules, first that applies wins (the name is lower-cased, a comma between digits becomes a point:
  "1,5" is 1.5; any other comma stays, so "Leve 4, Pague 3" is still a count of 4):
   1. N x M unit           12x395g, 6x1L, Pack 3 x 90g, 12 X 350 ML, 6 un x 1L
                            -> pack_qty N, net N*M
   2. M unit               2L, 1,5kg, 500 g, 1.5L, 200ML, 1.000g (thousands dot with g/ml/mg)
      + a container count   "12 un", "6 unidades", "12 latas", "c/ 12", "com 6", "Kit 3",
                            "Leve 6 Pague 5", "2 pacotes com 12 latas" (2*12)
                            -> pack_qty N, net N*M (each container holds M)
      + an item count       "10 sachês", "12 rolos", "10 cápsulas", "60 folhas"
                            -> pack_qty N, net M (the measure is the pack's total)
      alone                 -> pack_qty 1, net M
   3. VTEX measurementUnit kg|g|l|ml with unitMultiplier > 0 (items sold by weight/volume,
      when the name has no measure) -> pack_qty 1, net unitMultiplier in kg or l
   4. a count without measure: 12un, 12 rolos, 30 ovos, c/ 6, Kit 3, 1 pacote com 42 unidades (42),
      1 dúzia (12), meia dúzia (6)
                            -> unit 'un', pack_qty N, net N
   5. "Kg" without a number (Picanha Kg, Tomate kg: sold per kg) -> 1 kg
   6. otherwise            -> 1 un, net 1, parsed_from 'default'
  Numbers glued to letters are never sizes: "3 Corações" (brand), "7Belo", "H2OH!", "70% Cacau"
  (nor "com 70% Cacau"). "1/2" is a half: "1/2 kg" is 0.5 kg, "1/2 dúzia" 6. net_amount is rounded
  to 9 decimals (a microgram: "0,15mg" stays above zero).
-#}

{#-
  Letters and digits of a lower-cased Portuguese name. Deliberately not \pL\pN: RE2 compiles the
  Unicode classes into large automata, once per pattern and thread, which made tru_product 10x slower.
-#}
{%- macro _pack_word() -%}a-z0-9à-ÿ{%- endmacro -%}
{#- A boundary before a number: not a letter, digit, decimal point or slash ("1/2" is a half, normalised to 0.5; the name is space-padded). -#}
{%- macro _pack_before() -%}[^{{ _pack_word() }}./]{%- endmacro -%}
{#- A boundary after a unit: not a letter or digit ("350ml)" and "1l " match; "1 lâmpada" does not). -#}
{%- macro _pack_after() -%}(?:[^{{ _pack_word() }}]|$){%- endmacro -%}
{%- macro _pack_number() -%}(\d+(?:\.\d+)?){%- endmacro -%}
{%- macro _pack_uom() -%}(kgs?|quilos?|grs?|gramas?|g|mg|ml|cl|lts?|litros?|l){%- endmacro -%}
{#- Words counting containers that each hold the measure in the name. -#}
{%- macro _pack_containers() -%}(?:unidades?|unids?|und|un|latas?|garrafas?|long necks?|potes?|frascos?|caixinhas?|caixas?|pacotes?|saquinhos?|bandejas?|embalagens?){%- endmacro -%}
{#- Words counting items whose total the measure in the name gives. -#}
{%- macro _pack_items() -%}(?:rolos?|sach[eê]s?|c[aá]psulas?|folhas?|tabletes?|envelopes?|fraldas?|ovos?|pares?|p[cç]s|pe[cç]as?|itens?|doses?|cartelas?){%- endmacro -%}

{#- The patterns, as SQL string literals. -#}
{%- macro _re_multipack() -%}'{{ _pack_before() }}(\d+)\s*(?:{{ _pack_containers() }}\.?\s*)?[x×]\s*{{ _pack_number() }}\s*{{ _pack_uom() }}{{ _pack_after() }}'{%- endmacro -%}
{%- macro _re_measure() -%}'{{ _pack_before() }}{{ _pack_number() }}\s*{{ _pack_uom() }}{{ _pack_after() }}'{%- endmacro -%}
{%- macro _re_containers() -%}'{{ _pack_before() }}(\d+)\s*{{ _pack_containers() }}\.?{{ _pack_after() }}'{%- endmacro -%}
{#- "2 pacotes com 12 latas", "1 pacote com 42 unidades": containers of containers, N * M in all. -#}
{%- macro _re_nested() -%}'{{ _pack_before() }}(\d+)\s*{{ _pack_containers() }}\.?\s*(?:c/|com|de)\s*(\d+)(?:[^{{ _pack_word() }}.]|$)'{%- endmacro -%}
{#- "Kit 3 …", "Kit com 3 …", "Leve 6 Pague 5": the pack's count before the product. -#}
{%- macro _re_kit() -%}'[^{{ _pack_word() }}](?:kit|leve)\s*(?:c/|com)?\s*(\d+)(?:[^{{ _pack_word() }}.%]|$)'{%- endmacro -%}
{#- "com 70% Cacau" is not a count: a number followed by % never is. -#}
{%- macro _re_with() -%}'[^{{ _pack_word() }}](?:c/|com)\s*(\d+)(?:[^{{ _pack_word() }}.%]|$)'{%- endmacro -%}
{%- macro _re_items() -%}'{{ _pack_before() }}(\d+)\s*{{ _pack_items() }}{{ _pack_after() }}'{%- endmacro -%}
{%- macro _re_dozens() -%}'{{ _pack_before() }}(\d+(?:\.\d+)?)\s*d[uú]zias?{{ _pack_after() }}'{%- endmacro -%}

{#-
  The normalised name: lower case, decimal commas as points ("1,5kg" -> "1.5kg"; a comma not between
  digits stays: "leve 4, pague 3" is no decimal "4."), "1/2" as "0.5", padded by
  spaces. No-break spaces (U+00A0, U+2007, U+202F: names pasted from web pages, pt-BR number
  formatting) become spaces: "5 kg" with one is 5 kg, not "Kg" alone (1 kg), and "1 L" is a litre.
-#}
{%- macro _pack_norm(name) -%}
regexp_replace(' ' || translate(regexp_replace(lower(coalesce({{ name }}, '')), '([0-9]),([0-9])', '\1.\2', 'g'), chr(160) || chr(8199) || chr(8239), '   ') || ' ', '([^0-9])1/2([^0-9])', '\1 0.5\2', 'g')
{%- endmacro -%}

{#- A measure's number: "1.000" with g/ml/mg is a thousands separator (1000 g), else a decimal point. -#}
{%- macro _pack_amount(amt, uom) -%}
(CASE WHEN list_contains(['g', 'gr', 'grs', 'grama', 'gramas', 'mg', 'ml'], {{ uom }}) AND regexp_full_match({{ amt }}, '\d{1,3}\.\d{3}') THEN replace({{ amt }}, '.', '') ELSE {{ amt }} END)::DOUBLE
{%- endmacro -%}
{%- macro _pack_factor(uom) -%}
(CASE WHEN list_contains(['g', 'gr', 'grs', 'grama', 'gramas', 'ml'], {{ uom }}) THEN 0.001 WHEN {{ uom }} = 'mg' THEN 0.000001 WHEN {{ uom }} = 'cl' THEN 0.01 ELSE 1.0 END)
{%- endmacro -%}
{%- macro _pack_unit(uom) -%}
(CASE WHEN list_contains(['ml', 'cl', 'l', 'lt', 'lts', 'litro', 'litros'], {{ uom }}) THEN 'l' ELSE 'kg' END)
{%- endmacro -%}
{%- macro _pack_struct(qty, unit, net, parsed_from) -%}
{'pack_qty': ({{ qty }})::INTEGER, 'unit': ({{ unit }})::VARCHAR, 'net_amount': round(({{ net }})::DOUBLE, 9), 'parsed_from': {{ parsed_from }}}
{%- endmacro -%}

{#-
  One CASE, no subquery and no lambda (binding the name once through list_transform measured 4-5x
  slower on these patterns). DuckDB evaluates a branch only for the rows that reach it, so a name
  pays for the patterns up to the one that matches.
-#}
{%- macro pack_size(name, measurement_unit=none, unit_multiplier=none) -%}
{%- set n = _pack_norm(name) -%}
{%- set x_amt = _pack_amount('regexp_extract(' ~ n ~ ', ' ~ _re_multipack() ~ ', 2)', 'regexp_extract(' ~ n ~ ', ' ~ _re_multipack() ~ ', 3)') -%}
{%- set x_uom = 'regexp_extract(' ~ n ~ ', ' ~ _re_multipack() ~ ', 3)' -%}
{%- set x_qty = 'regexp_extract(' ~ n ~ ', ' ~ _re_multipack() ~ ', 1)::INTEGER' -%}
{%- set m_uom = 'regexp_extract(' ~ n ~ ', ' ~ _re_measure() ~ ', 2)' -%}
{%- set m_amt = _pack_amount('regexp_extract(' ~ n ~ ', ' ~ _re_measure() ~ ', 1)', m_uom) -%}
{%- set nested = '(nullif(regexp_extract(' ~ n ~ ', ' ~ _re_nested() ~ ', 1), \'\')::INTEGER * nullif(regexp_extract(' ~ n ~ ', ' ~ _re_nested() ~ ', 2), \'\')::INTEGER)' -%}
{%- set counted = 'coalesce(nullif(regexp_extract(' ~ n ~ ', ' ~ _re_kit() ~ ', 1), \'\'), nullif(regexp_extract(' ~ n ~ ', ' ~ _re_containers() ~ ', 1), \'\'), nullif(regexp_extract(' ~ n ~ ', ' ~ _re_with() ~ ', 1), \'\'))::INTEGER' -%}
{%- set containers = 'coalesce(' ~ nested ~ ', ' ~ counted ~ ')' -%}
{%- set items = 'nullif(regexp_extract(' ~ n ~ ', ' ~ _re_items() ~ ', 1), \'\')::INTEGER' -%}
(CASE
    WHEN regexp_matches({{ n }}, {{ _re_multipack() }}) THEN
        {{ _pack_struct(x_qty, _pack_unit(x_uom), x_qty ~ ' * ' ~ x_amt ~ ' * ' ~ _pack_factor(x_uom), "'name'") }}
    WHEN regexp_matches({{ n }}, {{ _re_measure() }}) THEN
        {{ _pack_struct('coalesce(' ~ containers ~ ', ' ~ items ~ ', 1)', _pack_unit(m_uom), 'coalesce(' ~ containers ~ ', 1) * ' ~ m_amt ~ ' * ' ~ _pack_factor(m_uom), "'name'") }}
{%- if measurement_unit is not none and unit_multiplier is not none %}
    WHEN list_contains(['kg', 'g', 'l', 'ml'], lower({{ measurement_unit }})) AND {{ unit_multiplier }} > 0 THEN
        {{ _pack_struct('1', _pack_unit('lower(' ~ measurement_unit ~ ')'), unit_multiplier ~ ' * ' ~ _pack_factor('lower(' ~ measurement_unit ~ ')'), "'measurement_unit'") }}
{%- endif %}
    WHEN regexp_matches({{ n }}, '[^{{ _pack_word() }}]meia d[uú]zia') THEN
        {{ _pack_struct('6', "'un'", '6', "'name'") }}
    WHEN regexp_matches({{ n }}, {{ _re_dozens() }}) THEN
        {{ _pack_struct('round(12 * regexp_extract(' ~ n ~ ', ' ~ _re_dozens() ~ ', 1)::DOUBLE)', "'un'", 'round(12 * regexp_extract(' ~ n ~ ', ' ~ _re_dozens() ~ ', 1)::DOUBLE)', "'name'") }}
    WHEN regexp_matches({{ n }}, '[^{{ _pack_word() }}]d[uú]zia{{ _pack_after() }}') THEN
        {{ _pack_struct('12', "'un'", '12', "'name'") }}
    WHEN {{ containers }} IS NOT NULL OR {{ items }} IS NOT NULL THEN
        {{ _pack_struct('coalesce(' ~ containers ~ ', ' ~ items ~ ')', "'un'", 'coalesce(' ~ containers ~ ', ' ~ items ~ ')', "'name'") }}
    WHEN regexp_matches({{ n }}, '{{ _pack_before() }}(?:kg|quilo){{ _pack_after() }}') THEN
        {{ _pack_struct('1', "'kg'", '1', "'name'") }}
    ELSE
        {{ _pack_struct('1', "'un'", '1', "'default'") }}
END)
{%- endmacro -%}

{%- macro pack_qty(name, measurement_unit=none, unit_multiplier=none) -%}
({{ pack_size(name, measurement_unit, unit_multiplier) }}).pack_qty
{%- endmacro -%}
{%- macro pack_unit(name, measurement_unit=none, unit_multiplier=none) -%}
({{ pack_size(name, measurement_unit, unit_multiplier) }}).unit
{%- endmacro -%}
{%- macro pack_net_amount(name, measurement_unit=none, unit_multiplier=none) -%}
({{ pack_size(name, measurement_unit, unit_multiplier) }}).net_amount
{%- endmacro -%}
