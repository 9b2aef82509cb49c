{{ config(materialized='table', tags=['shop']) }}
{#-
  One row per (customer_unique_id, order_date) for the São Paulo days on which the person placed
  at least one trusted order: that day's orders, paid orders, units and revenue (paid only), and
  the running totals since the person's first order — the base for cohorts and repeat-purchase
  curves. is_first_order_day marks the person's first order day (any status);
  days_since_previous_order counts from the person's previous order day.
-#}
with daily as (
    select
        customer_unique_id,
        purchased_date                                         as order_date,
        count(*)                                               as orders_count,
        count(*) filter (where is_paid)                        as paid_orders_count,
        coalesce(sum(items_count) filter (where is_paid), 0)   as units_bought,
        sum(revenue)                                           as revenue
    from {{ ref('fct_shop_orders') }}
    group by all
)

select
    customer_unique_id,
    order_date,
    orders_count::INTEGER                                                             as orders_count,
    paid_orders_count::INTEGER                                                        as paid_orders_count,
    units_bought::INTEGER                                                             as units_bought,
    revenue::DECIMAL(18, 2)                                                           as revenue,
    row_number() over person = 1                                                      as is_first_order_day,
    (order_date - lag(order_date) over person)::INTEGER                               as days_since_previous_order,
    (sum(orders_count) over running)::INTEGER                                         as cumulative_orders,
    (sum(paid_orders_count) over running)::INTEGER                                    as cumulative_paid_orders,
    (sum(revenue) over running)::DECIMAL(18, 2)                                       as cumulative_revenue
from daily
window
    person as (partition by customer_unique_id order by order_date),
    running as (partition by customer_unique_id order by order_date rows between unbounded preceding and current row)
