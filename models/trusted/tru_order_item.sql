{{ config(materialized='table', tags=['marketplace']) }}
{#-
  One row per (order_id, item_id, variation_id) — variation_id is null for listings without
  variations, so the key is null-safe: order_item_key = 'order_id:item_id:variation_id' with '-'
  for no variation, and joins on the key columns use IS NOT DISTINCT FROM.
  Lines come from the order version tru_order kept (same order, run, extraction instant and
  last_updated), so orders tru_order rejected have no lines here. A version read twice at the
  same instant is counted once (by line_number); two lines of one order for the same listing and
  variation are summed (quantity, amounts; unit prices become the quantity-weighted average).

  Rules (audit.tru_order_item_rejected, aggregated the same way):
    missing_item_id        a line without listing id
    non_positive_quantity  quantity <= 0 (or null)
    negative_unit_price    unit_price < 0 (or null)
-#}
with kept_versions as (
    select order_id, run_id, extracted_at, last_updated_at, status, seller_id, buyer_id, date_created_at
    from {{ ref('tru_order') }}
),

lines as (
    select l.*
    from {{ ref('stg_ml__order_items') }} as l
    join kept_versions as v
        on  l.order_id = v.order_id
        and l.run_id = v.run_id
        and l.extracted_at = v.extracted_at
        and l.order_last_updated_at is not distinct from v.last_updated_at
    qualify row_number() over (partition by l.order_id, l.line_number order by l.item_id) = 1
),

valid_lines as (
    select *
    from lines
    where {{ reject_if('item_id is null', 'missing_item_id') }}
      and {{ reject_if('quantity is null or quantity <= 0', 'non_positive_quantity') }}
      and {{ reject_if('unit_price is null or unit_price < 0', 'negative_unit_price') }}
),

grouped as (
    select
        order_id,
        item_id,
        variation_id,
        min(line_number)                                                   as line_number,
        count(*)                                                           as lines_merged,
        first(item_title order by line_number)                             as item_title,
        first(category_id order by line_number)                            as category_id,
        first(seller_sku order by line_number)                             as seller_sku,
        first(variation_size order by line_number)                         as variation_size,
        first(variation_color order by line_number)                        as variation_color,
        first(listing_type_id order by line_number)                        as listing_type_id,
        sum(quantity)                                                      as quantity,
        sum(unit_price * quantity)                                         as line_amount,
        sum(coalesce(full_unit_price, unit_price) * quantity)              as full_line_amount,
        sum(coalesce(sale_fee, 0) * quantity)                              as sale_fee_amount
    from valid_lines
    group by order_id, item_id, variation_id
)

select
    g.order_id,
    g.item_id,
    g.variation_id,
    g.order_id::VARCHAR || ':' || g.item_id || ':' || coalesce(g.variation_id::VARCHAR, '-') as order_item_key,
    g.line_number::INTEGER                                                  as line_number,
    g.item_title,
    g.category_id,
    g.seller_sku,
    g.variation_size,
    g.variation_color,
    g.listing_type_id,
    g.quantity::INTEGER                                                     as quantity,
    (g.line_amount / nullif(g.quantity, 0))::DECIMAL(18, 2)                 as unit_price,
    (g.full_line_amount / nullif(g.quantity, 0))::DECIMAL(18, 2)            as full_unit_price,
    g.line_amount::DECIMAL(18, 2)                                           as line_amount,
    greatest(g.full_line_amount - g.line_amount, 0)::DECIMAL(18, 2)         as discount_amount,
    g.sale_fee_amount::DECIMAL(18, 2)                                       as sale_fee_amount,
    g.lines_merged::INTEGER                                                 as lines_merged,
    v.status                                                                as order_status,
    v.seller_id,
    v.buyer_id,
    v.date_created_at                                                       as order_created_at,
    timezone('America/Sao_Paulo', v.date_created_at)                        as order_created_sp,
    timezone('America/Sao_Paulo', v.date_created_at)::DATE                  as order_created_date
from grouped as g
join kept_versions as v using (order_id)
