{{ config(materialized='table', tags=['shop']) }}
{#-
  One row per person (customer_unique_id; Olist mints a customer_id per order). Address from the
  person's latest order (a person who moved keeps the newest address), with the CEP prefix's
  centroid. Orders counts and first/last orders cover every trusted order of any status;
  paid_orders_count and revenue only paid ones (fct_shop_orders.is_paid). A person whose orders
  were all rejected in trusted stays here with orders_count 0 and no order dates.
-#}
with customers as (
    select * from {{ ref('tru_shop_customer') }}
),

orders as (
    select * from {{ ref('fct_shop_orders') }}
),

history as (
    select
        c.customer_unique_id,
        count(distinct c.customer_id)                 as customer_ids_count,
        count(o.order_id)                             as orders_count,
        count(o.order_id) filter (where o.is_paid)    as paid_orders_count,
        coalesce(sum(o.revenue), 0)                   as revenue,
        min(o.purchased_at)                           as first_order_at,
        max(o.purchased_at)                           as last_order_at,
        min(o.purchased_date)                         as first_order_date,
        max(o.purchased_date)                         as last_order_date
    from customers as c
    left join orders as o using (customer_id)
    group by c.customer_unique_id
),

latest_address as (
    select c.customer_unique_id, c.zip_code_prefix, c.city, c.state
    from customers as c
    left join orders as o using (customer_id)
    qualify row_number() over (
        partition by c.customer_unique_id
        order by o.purchased_at desc nulls last, c.customer_id
    ) = 1
)

select
    h.customer_unique_id,
    a.state,
    a.city,
    a.zip_code_prefix,
    g.lat,
    g.lng,
    h.customer_ids_count::INTEGER       as customer_ids_count,
    h.orders_count::INTEGER             as orders_count,
    h.paid_orders_count::INTEGER        as paid_orders_count,
    h.revenue::DECIMAL(18, 2)           as revenue,
    h.first_order_at,
    h.last_order_at,
    h.first_order_date,
    h.last_order_date
from history as h
join latest_address as a using (customer_unique_id)
left join {{ ref('tru_shop_geolocation') }} as g using (zip_code_prefix)
