{{ config(materialized='table', tags=['shop']) }}
{#-
  One row per (order_id, payment_sequential): one payment of an order (a voucher and a card are
  two), with the buyer and the order's São Paulo purchase date and status.
-#}
with payments as (
    select * from {{ ref('tru_shop_payment') }}
),

orders as (
    select order_id, customer_unique_id, order_status, is_paid, purchased_at, purchased_date
    from {{ ref('fct_shop_orders') }}
)

select
    p.order_id,
    p.payment_sequential,
    p.payment_type,
    p.payment_installments,
    p.payment_value,
    o.customer_unique_id,
    o.order_status,
    o.is_paid,
    o.purchased_at,
    o.purchased_date
from payments as p
join orders as o using (order_id)
