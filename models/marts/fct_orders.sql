{{ config(materialized='table', tags=['marketplace']) }}
{#-
  One row per order_id (Mercado Livre), the order's latest known state, with its revenue and its
  São Paulo date and hour — the fact behind sales by day, hour, seller and buyer.

  Revenue columns (DECIMAL(18,2)):
    gross_amount     total_amount: the price of the order lines, whatever happened next
    paid_amount      what the API says was paid for the order (0 once cancelled)
    refunded_amount  sum of the payments' refunded amounts
    revenue_amount   the paid revenue (tru_order.net_paid_amount): for status 'paid' and
                     'partially_refunded', paid_amount − refunded_amount; 0 for any other status
    sale_fee_amount  Mercado Livre's fees on the order lines (unit fee × quantity)
    discount_amount  full (list) price − price paid, over the lines (promotions)
  is_revenue says whether the order counts as paid revenue (dim_sellers counts those orders for
  the average ticket). is_first_buyer_order: the buyer's first order with this seller in the data.
-#}
with orders as (
    select * from {{ ref('tru_order') }}
),

lines as (
    select order_id, sum(discount_amount) as discount_amount, count(distinct item_id) as listings_count
    from {{ ref('tru_order_item') }}
    group by order_id
)

select
    o.order_id,
    o.seller_id,
    o.buyer_id,
    o.status,
    o.is_paid_revenue                                                            as is_revenue,
    o.status = 'cancelled'                                                       as is_cancelled,
    o.date_created_at,
    o.date_created_sp,
    o.date_created_date,
    hour(o.date_created_sp)::INTEGER                                             as date_created_hour,
    isodow(o.date_created_sp)::INTEGER                                           as date_created_weekday,
    date_trunc('month', o.date_created_date)::DATE                               as date_created_month,
    o.date_closed_sp,
    o.last_updated_sp,
    o.items_count,
    coalesce(l.listings_count, 0)::INTEGER                                       as listings_count,
    o.units_count,
    o.currency_id,
    o.total_amount                                                               as gross_amount,
    coalesce(o.paid_amount, 0)::DECIMAL(18, 2)                                   as paid_amount,
    o.refunded_amount,
    o.net_paid_amount                                                            as revenue_amount,
    o.sale_fee_amount,
    coalesce(l.discount_amount, 0)::DECIMAL(18, 2)                               as discount_amount,
    o.main_payment_type,
    o.max_installments                                                           as installments,
    row_number() over (
        partition by o.seller_id, o.buyer_id order by o.date_created_at, o.order_id
    ) = 1                                                                        as is_first_buyer_order
from orders as o
left join lines as l using (order_id)
