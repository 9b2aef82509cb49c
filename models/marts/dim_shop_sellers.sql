{{ config(materialized='table', tags=['shop']) }}
{#-
  One row per seller_id of the shop (dim_sellers is the Mercado Livre model): location (CEP
  prefix, city, state, the prefix's centroid) and what it sold (every trusted order; paid_revenue
  is price + freight of its units in paid orders).
-#}
with sellers as (
    select * from {{ ref('tru_shop_seller') }}
),

sales as (
    select
        seller_id,
        count(distinct order_id)                             as orders_count,
        count(*)                                             as units_sold,
        count(distinct product_id)                           as products_count,
        coalesce(sum(item_value) filter (where is_paid), 0)  as paid_revenue,
        min(purchased_date)                                  as first_sale_date,
        max(purchased_date)                                  as last_sale_date
    from {{ ref('fct_order_items') }}
    group by seller_id
)

select
    s.seller_id,
    s.state,
    s.city,
    s.zip_code_prefix,
    g.lat,
    g.lng,
    coalesce(x.orders_count, 0)::INTEGER    as orders_count,
    coalesce(x.units_sold, 0)::INTEGER      as units_sold,
    coalesce(x.products_count, 0)::INTEGER  as products_count,
    coalesce(x.paid_revenue, 0)::DECIMAL(18, 2) as paid_revenue,
    x.first_sale_date,
    x.last_sale_date
from sellers as s
left join sales as x using (seller_id)
left join {{ ref('tru_shop_geolocation') }} as g using (zip_code_prefix)
