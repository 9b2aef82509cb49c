{{ config(materialized='table', tags=['shop']) }}
{#-
  One row per (order_id, order_item_id): one unit sold (Olist writes a row per unit), with its
  product, seller, the buyer (customer_unique_id) and the order's São Paulo purchase date and
  status. item_value = price + freight_value. Named fct_shop_* to keep model names unique
  across domains.
-#}
with items as (
    select * from {{ ref('tru_shop_order_item') }}
),

orders as (
    select order_id, customer_unique_id, order_status, is_paid, purchased_at, purchased_date
    from {{ ref('fct_shop_orders') }}
)

select
    i.order_id,
    i.order_item_id,
    i.product_id,
    i.seller_id,
    o.customer_unique_id,
    o.order_status,
    o.is_paid,
    o.purchased_at,
    o.purchased_date,
    i.shipping_limit_at,
    i.price,
    i.freight_value,
    (i.price + i.freight_value)::DECIMAL(18, 2) as item_value
from items as i
join orders as o using (order_id)
