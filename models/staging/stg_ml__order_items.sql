{{ config(materialized='view', tags=['marketplace']) }}
{#-
  Typed view of the order lines of bronze mercadolivre/orders, unnested: ONE ROW PER ORDER LINE
  PER ORDER VERSION (per extraction). line_number is the line's position in the order (1-based);
  (order_id, line_number) is unique within a version. variation_id is null for listings without
  variations. The order's version stamps (last_updated_at, extracted_at, run_id) are carried so
  tru_order_item can keep the lines of the version tru_order kept.
-#}
with orders as (
    select * from {{ source('mercadolivre', 'orders') }}
),

-- Unnesting in the select list (two lists of the same length unnest side by side).
lines as (
    select
        o.id,
        o.status,
        o.date_created,
        o.last_updated,
        o.seller,
        o.buyer,
        o._extracted_at,
        o._run_id,
        unnest(o.order_items)                          as oi,
        unnest(range(1, len(o.order_items) + 1))       as line_number
    from orders as o
)

select
    id::BIGINT                                                          as order_id,
    line_number::INTEGER                                                as line_number,
    nullif(trim(oi.item.id), '')                                        as item_id,
    oi.item.variation_id::BIGINT                                        as variation_id,
    nullif(trim(oi.item.title), '')                                     as item_title,
    nullif(trim(oi.item.category_id), '')                               as category_id,
    nullif(trim(oi.item.seller_sku), '')                                as seller_sku,
    -- The variation bought, from its attribute combination (null without variation).
    nullif(trim(list_filter(oi.item.variation_attributes, lambda a: upper(a.id) = 'SIZE')[1].value_name), '')  as variation_size,
    nullif(trim(list_filter(oi.item.variation_attributes, lambda a: upper(a.id) = 'COLOR')[1].value_name), '') as variation_color,
    oi.quantity::INTEGER                                                as quantity,
    oi.unit_price::DECIMAL(18, 2)                                       as unit_price,
    oi.full_unit_price::DECIMAL(18, 2)                                  as full_unit_price,
    -- Mercado Livre's fee per unit sold.
    oi.sale_fee::DECIMAL(18, 2)                                         as sale_fee,
    nullif(trim(oi.listing_type_id), '')                                as listing_type_id,
    nullif(lower(trim(status)), '')                                     as order_status,
    seller.id::BIGINT                                                   as seller_id,
    buyer.id::BIGINT                                                    as buyer_id,
    date_created                                                        as order_created_at,
    last_updated                                                        as order_last_updated_at,
    _extracted_at                                                       as extracted_at,
    _run_id                                                             as run_id
from lines
