{{ config(materialized='table', tags=['shop']) }}
{#-
  One row per order_id (the shop's order header; named fct_shop_orders because fct_orders is the
  Mercado Livre model). The person (customer_unique_id), status, the São Paulo purchase date and
  hour, delivery timing, and the order's totals from its trusted items, payments and review.

  is_paid: the payment was approved and the order was not lost — status approved, invoiced,
  processing, shipped or delivered (not created, canceled or unavailable).
  revenue: payment_value (every trusted payment of the order: card, boleto, voucher, debit; freight
  included) when is_paid, else 0. It is the revenue of every customer mart.
-#}
with orders as (
    select * from {{ ref('tru_shop_order') }}
),

customers as (
    select customer_id, customer_unique_id from {{ ref('tru_shop_customer') }}
),

items as (
    select
        order_id,
        count(*)                   as items_count,
        count(distinct product_id) as products_count,
        count(distinct seller_id)  as sellers_count,
        sum(price)                 as items_value,
        sum(freight_value)         as freight_value
    from {{ ref('tru_shop_order_item') }}
    group by order_id
),

payments as (
    select
        order_id,
        count(*)                                                  as payments_count,
        sum(payment_value)                                        as payment_value,
        max(payment_installments)                                 as max_installments,
        -- The method that paid most (vouchers usually pay a part), then the first one.
        first(payment_type order by payment_value desc, payment_sequential) as main_payment_type
    from {{ ref('tru_shop_payment') }}
    group by order_id
),

reviews as (
    select
        order_id,
        count(*)                                                                     as reviews_count,
        first(review_score order by answered_at desc nulls last, review_id)           as review_score
    from {{ ref('tru_shop_review') }}
    group by order_id
)

select
    o.order_id,
    o.customer_id,
    c.customer_unique_id,
    o.order_status,
    o.is_paid,
    o.is_delivered,
    o.purchased_at,
    o.purchased_sp,
    o.purchased_date,
    hour(o.purchased_sp)::INTEGER                                          as purchased_hour,
    o.approved_at,
    o.shipped_at,
    o.delivered_at,
    o.delivered_date,
    o.estimated_delivery_date,
    (o.delivered_date - o.purchased_date)::INTEGER                         as delivery_days,
    o.delivered_date > o.estimated_delivery_date                           as is_late,
    coalesce(i.items_count, 0)::INTEGER                                    as items_count,
    coalesce(i.products_count, 0)::INTEGER                                 as products_count,
    coalesce(i.sellers_count, 0)::INTEGER                                  as sellers_count,
    coalesce(i.items_value, 0)::DECIMAL(18, 2)                             as items_value,
    coalesce(i.freight_value, 0)::DECIMAL(18, 2)                           as freight_value,
    (coalesce(i.items_value, 0) + coalesce(i.freight_value, 0))::DECIMAL(18, 2) as order_value,
    coalesce(p.payments_count, 0)::INTEGER                                 as payments_count,
    coalesce(p.payment_value, 0)::DECIMAL(18, 2)                           as payment_value,
    p.main_payment_type,
    p.max_installments::INTEGER                                            as max_installments,
    (case when o.is_paid then coalesce(p.payment_value, 0) else 0 end)::DECIMAL(18, 2) as revenue,
    r.review_score::INTEGER                                                as review_score
from orders as o
join customers as c using (customer_id)
left join items as i using (order_id)
left join payments as p using (order_id)
left join reviews as r using (order_id)
