{{ config(materialized='table', tags=['shop']) }}
{#-
  One row per person (customer_unique_id) with at least one PAID order placed on or before the
  as-of date — var('as_of') as 'YYYY-MM-DD', default the latest purchase date of any trusted order.
  Only paid orders count (fct_shop_orders.is_paid: approved, invoiced, processing, shipped or
  delivered; not created, canceled or unavailable), and revenue is what they paid
  (fct_shop_orders.revenue: every trusted payment, freight and vouchers included). Statuses are
  the latest known: an order canceled after the as-of date does not count.

    orders                 paid orders purchased on or before as_of_date
    revenue                their payments
    aov                    revenue / orders
    lifespan_days          last_order_date - first_order_date (São Paulo days)
    lifespan_months        max(1, lifespan_days / 30.44)
    frequency              orders / lifespan_months (orders per month)
    clv                    aov × frequency × 36 (36-month horizon) = revenue × 36 / lifespan_months
    days_since_last_order  as_of_date - last_order_date
    churned                days_since_last_order > 90
  aov, lifespan_months and frequency are rounded for display; clv is computed unrounded and
  rounded to cents.
-#}
{%- set as_of = var('as_of', none) %}
with orders as (
    select * from {{ ref('fct_shop_orders') }}
),

as_of as (
{%- if as_of is null %}
    select max(purchased_date) as as_of_date from orders
{%- else %}
    select DATE '{{ as_of | string | replace("'", "''") }}' as as_of_date
{%- endif %}
),

per_customer as (
    select
        o.customer_unique_id,
        count(*)               as orders,
        sum(o.revenue)         as revenue,
        min(o.purchased_date)  as first_order_date,
        max(o.purchased_date)  as last_order_date
    from orders as o
    cross join as_of as a
    where o.is_paid
      and o.purchased_date <= a.as_of_date
    group by o.customer_unique_id
),

measured as (
    select
        c.*,
        a.as_of_date,
        (c.last_order_date - c.first_order_date)                           as lifespan_days,
        greatest(1.0, (c.last_order_date - c.first_order_date) / 30.44)    as lifespan_months_exact
    from per_customer as c
    cross join as_of as a
)

select
    customer_unique_id,
    as_of_date,
    first_order_date,
    last_order_date,
    orders::INTEGER                                                                   as orders,
    revenue::DECIMAL(18, 2)                                                           as revenue,
    round(revenue::DOUBLE / orders, 2)::DECIMAL(18, 2)                                as aov,
    lifespan_days::INTEGER                                                            as lifespan_days,
    round(lifespan_months_exact, 4)                                                   as lifespan_months,
    round(orders / lifespan_months_exact, 4)                                          as frequency,
    round((revenue::DOUBLE / orders) * (orders / lifespan_months_exact) * 36, 2)::DECIMAL(18, 2) as clv,
    (as_of_date - last_order_date)::INTEGER                                           as days_since_last_order,
    (as_of_date - last_order_date) > 90                                               as churned
from measured
