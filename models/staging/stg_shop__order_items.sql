{{ config(materialized='view', tags=['shop']) }}
{#-
  Typed view of bronze shop/order_items: one row per order item (one unit: Olist writes a row per
  unit, numbered order_item_id 1, 2, …) per extraction run. Money as DECIMAL(18,2). A
  shipping_limit_date that is no date is NULL, named in unreadable_dates (macros/wall_clock.sql);
  a number that is none ('12,50', 'R$ 5') likewise, in unreadable_numbers (macros/read_as.sql).
-#}
with items as (
    select
        *,
        {{ wall_clock('shipping_limit_date') }} as shipping_limit_sp,
        {{ unreadable_dates(['shipping_limit_date']) }} as unreadable_dates
    from {{ source('shop', 'order_items') }}
)

select
    nullif(trim(order_id::VARCHAR), '')                   as order_id,
    {{ read_as('order_item_id', 'INTEGER') }}                as order_item_id,
    nullif(trim(product_id::VARCHAR), '')                 as product_id,
    nullif(trim(seller_id::VARCHAR), '')                  as seller_id,
    shipping_limit_sp,
    timezone('America/Sao_Paulo', shipping_limit_sp)      as shipping_limit_at,
    {{ read_as('price', 'DECIMAL(18, 2)') }}                 as price,
    {{ read_as('freight_value', 'DECIMAL(18, 2)') }}         as freight_value,
    unreadable_dates,
    list_concat({{ unreadable_as(['order_item_id'], 'INTEGER') }}, {{ unreadable_as(['price', 'freight_value'], 'DECIMAL(18, 2)') }}) as unreadable_numbers,
    _extracted_at                                         as extracted_at,
    _run_id                                               as run_id
from items
