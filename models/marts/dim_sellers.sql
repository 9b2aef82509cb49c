{{ config(materialized='table', tags=['marketplace']) }}
{#-
  One row per Mercado Livre seller_id: every seller with a profile (tru_seller), an order
  (tru_order) or a listing (tru_item) in the lake — a seller seen only through orders has null
  profile columns (has_profile false), a profile without orders has zero counts.

  Sales, over the orders of tru_order (each order in its latest state):
    orders_count          all orders, whatever their status
    paid_orders_count     orders counted as paid revenue: status 'paid' or 'partially_refunded'
    cancelled_orders_count status 'cancelled' (never paid, or paid then returned)
    paid_revenue          SUM over the paid orders of (paid_amount − refunded_amount) — money the
                          seller kept, before Mercado Livre's fees (tru_order.net_paid_amount)
    average_ticket        paid_revenue / paid_orders_count (null without paid orders), DECIMAL(18,2)
    gross_amount          SUM of total_amount over all orders (what was ordered)
    sale_fee_amount       Mercado Livre's fees on the paid orders
  Reputation: see tru_seller.
-#}
with sellers as (
    select * from {{ ref('tru_seller') }}
),

orders as (
    select
        seller_id,
        count(*)                                                              as orders_count,
        count(*) filter (where is_paid_revenue)                               as paid_orders_count,
        count(*) filter (where status = 'cancelled')                          as cancelled_orders_count,
        count(distinct buyer_id)                                              as buyers_count,
        coalesce(sum(net_paid_amount) filter (where is_paid_revenue), 0)      as paid_revenue,
        coalesce(sum(refunded_amount) filter (where is_paid_revenue), 0)      as refunded_amount,
        coalesce(sum(sale_fee_amount) filter (where is_paid_revenue), 0)      as sale_fee_amount,
        coalesce(sum(units_count) filter (where is_paid_revenue), 0)          as units_sold,
        sum(total_amount)                                                     as gross_amount,
        min(date_created_date)                                                as first_order_date,
        max(date_created_date)                                                as last_order_date
    from {{ ref('tru_order') }}
    group by seller_id
),

listings as (
    select
        seller_id,
        count(*)                                   as listings_count,
        count(*) filter (where status = 'active')  as active_listings_count
    from {{ ref('tru_item') }}
    where seller_id is not null
    group by seller_id
),

ids as (
    select seller_id from sellers
    union
    select seller_id from orders where seller_id is not null
    union
    select seller_id from listings
)

select
    i.seller_id,
    s.seller_id is not null                                                  as has_profile,
    s.nickname,
    s.user_type,
    s.state,
    s.state_uf,
    s.city,
    s.registration_date,
    s.level_id,
    s.reputation_level,
    s.reputation_color,
    s.power_seller_status,
    s.transactions_total,
    s.transactions_completed,
    s.transactions_canceled,
    s.completed_share,
    s.canceled_share,
    s.ratings_positive_share,
    s.ratings_negative_share,
    s.ratings_neutral_share,
    coalesce(o.orders_count, 0)::INTEGER                                     as orders_count,
    coalesce(o.paid_orders_count, 0)::INTEGER                                as paid_orders_count,
    coalesce(o.cancelled_orders_count, 0)::INTEGER                           as cancelled_orders_count,
    coalesce(o.buyers_count, 0)::INTEGER                                     as buyers_count,
    coalesce(o.units_sold, 0)::INTEGER                                       as units_sold,
    coalesce(o.gross_amount, 0)::DECIMAL(18, 2)                              as gross_amount,
    coalesce(o.paid_revenue, 0)::DECIMAL(18, 2)                              as paid_revenue,
    coalesce(o.refunded_amount, 0)::DECIMAL(18, 2)                           as refunded_amount,
    coalesce(o.sale_fee_amount, 0)::DECIMAL(18, 2)                           as sale_fee_amount,
    (o.paid_revenue / nullif(o.paid_orders_count, 0))::DECIMAL(18, 2)        as average_ticket,
    round(o.cancelled_orders_count::DOUBLE / nullif(o.orders_count, 0), 4)   as cancelled_share,
    o.first_order_date,
    o.last_order_date,
    coalesce(l.listings_count, 0)::INTEGER                                   as listings_count,
    coalesce(l.active_listings_count, 0)::INTEGER                            as active_listings_count
from ids as i
left join sellers as s on s.seller_id = i.seller_id
left join orders as o on o.seller_id = i.seller_id
left join listings as l on l.seller_id = i.seller_id
