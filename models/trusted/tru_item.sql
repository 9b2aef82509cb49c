{{ config(materialized='table', tags=['marketplace']) }}
{#-
  One row per item_id (a Mercado Livre listing): its latest snapshot (by extracted_at, then run
  id), with the descriptive attributes read out of the API's attribute list by attribute id
  (BRAND, MODEL, SIZE, COLOR, GENDER; value_name, trimmed, empty = null):
    brand, model, gender   the listing's attribute, nothing else
    size, color            the listing's attribute; when absent, the variations' value if every
                           variation has the same one (a shirt sold in one colour and several
                           sizes has a color, not a size); else null
  size_from / color_from say which ('attribute' | 'variations'); variation_sizes and
  variation_colors list every value the variations offer (sorted, distinct).
  Price fields are the latest snapshot's; the daily history is tru_item_price.
  Rule (audit.tru_item_rejected): missing_item_id.
-#}
{%- macro attr(list, attribute_id) -%}
nullif(trim(list_filter({{ list }}, lambda a: upper(a.id) = '{{ attribute_id }}')[1].value_name), '')
{%- endmacro -%}
{%- macro variation_values(attribute_id) -%}
list_sort(list_distinct(flatten(list_transform(variations, lambda v: list_transform(list_filter(v.attribute_combinations, lambda a: upper(a.id) = '{{ attribute_id }}' and nullif(trim(a.value_name), '') is not null), lambda a: trim(a.value_name))))))
{%- endmacro -%}
with snapshots as (
    select
        *,
        min(extracted_at) over item                                        as first_seen_at,
        count(*) over item                                                 as snapshots_count,
        row_number() over (item order by extracted_at desc, run_id desc)   as recency
    from {{ ref('stg_ml__items') }}
    window item as (partition by item_id)
),

latest as (
    select
        *,
        {{ attr('attributes', 'BRAND') }}          as attr_brand,
        {{ attr('attributes', 'MODEL') }}          as attr_model,
        {{ attr('attributes', 'SIZE') }}           as attr_size,
        {{ attr('attributes', 'COLOR') }}          as attr_color,
        {{ attr('attributes', 'GENDER') }}         as attr_gender,
        {{ attr('attributes', 'ITEM_CONDITION') }} as attr_condition,
        {{ variation_values('SIZE') }}             as variation_sizes,
        {{ variation_values('COLOR') }}            as variation_colors
    from snapshots
    where recency = 1
)

select
    item_id,
    site_id,
    title,
    seller_id,
    category_id,
    attr_brand                                                                     as brand,
    attr_model                                                                     as model,
    coalesce(attr_size, case when len(variation_sizes) = 1 then variation_sizes[1] end)   as size,
    case when attr_size is not null then 'attribute' when len(variation_sizes) = 1 then 'variations' end as size_from,
    coalesce(attr_color, case when len(variation_colors) = 1 then variation_colors[1] end) as color,
    case when attr_color is not null then 'attribute' when len(variation_colors) = 1 then 'variations' end as color_from,
    attr_gender                                                                    as gender,
    coalesce(condition, case lower(attr_condition) when 'novo' then 'new' when 'usado' then 'used' end) as condition,
    variations_count,
    variation_sizes,
    variation_colors,
    price,
    original_price,
    coalesce(original_price > price, false)                                        as on_promotion,
    currency_id,
    available_quantity,
    sold_quantity,
    listing_type_id,
    status,
    permalink,
    date_created_at,
    last_updated_at,
    first_seen_at,
    extracted_at                                                                   as last_seen_at,
    price_date                                                                     as last_seen_date,
    snapshots_count::INTEGER                                                       as snapshots_count,
    run_id                                                                         as last_run_id
from latest
where {{ reject_if('item_id is null', 'missing_item_id') }}
