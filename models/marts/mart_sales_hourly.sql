{{ config(materialized='table', tags=['shop']) }}
{#-
  One row per (order_date, order_hour) — São Paulo calendar day and hour of purchase, 0–23 —
  for EVERY hour from the first to the last order day (hours without orders are rows of zeros,
  so averages per hour of day are right). orders_count counts every trusted order placed;
  paid_orders_count, units_sold, revenue and buyers_count only paid ones (fct_shop_orders.is_paid,
  revenue = their payments).
-#}
with orders as (
    select * from {{ ref('fct_shop_orders') }}
),

grid as (
    select d.date_day as order_date, h.order_hour
    from {{ ref('dim_dates') }} as d
    cross join (select unnest(range(24))::INTEGER as order_hour) as h
    where d.date_day between (select min(purchased_date) from orders) and (select max(purchased_date) from orders)
),

hourly as (
    select
        purchased_date                                            as order_date,
        purchased_hour                                            as order_hour,
        count(*)                                                  as orders_count,
        count(*) filter (where is_paid)                           as paid_orders_count,
        coalesce(sum(items_count) filter (where is_paid), 0)      as units_sold,
        sum(revenue)                                              as revenue,
        count(distinct customer_unique_id) filter (where is_paid) as buyers_count
    from orders
    group by all
)

select
    g.order_date,
    g.order_hour,
    isodow(g.order_date)::INTEGER                                  as day_of_week,
    isodow(g.order_date) >= 6                                      as is_weekend,
    coalesce(h.orders_count, 0)::INTEGER                           as orders_count,
    coalesce(h.paid_orders_count, 0)::INTEGER                      as paid_orders_count,
    coalesce(h.units_sold, 0)::INTEGER                             as units_sold,
    coalesce(h.revenue, 0)::DECIMAL(18, 2)                         as revenue,
    coalesce(h.buyers_count, 0)::INTEGER                           as buyers_count,
    round(h.revenue / nullif(h.paid_orders_count, 0), 2)::DECIMAL(18, 2) as avg_order_value
from grid as g
left join hourly as h using (order_date, order_hour)
