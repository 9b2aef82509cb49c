{{ config(materialized='table', tags=['shop']) }}
{#-
  One row per product_id of the shop (dim_products is the prices domain's model): category,
  package size and weight, and what was sold of it (units and sellers over every trusted order,
  first and last São Paulo sale dates).
-#}
with products as (
    select * from {{ ref('tru_shop_product') }}
),

sales as (
    select
        product_id,
        count(*)                     as units_sold,
        count(distinct order_id)     as orders_count,
        count(distinct seller_id)    as sellers_count,
        min(purchased_date)          as first_sold_date,
        max(purchased_date)          as last_sold_date
    from {{ ref('fct_order_items') }}
    group by product_id
)

select
    p.product_id,
    p.category,
    p.product_name_length,
    p.product_description_length,
    p.photos_count,
    p.weight_g,
    p.length_cm,
    p.height_cm,
    p.width_cm,
    p.volume_cm3,
    coalesce(s.units_sold, 0)::INTEGER    as units_sold,
    coalesce(s.orders_count, 0)::INTEGER  as orders_count,
    coalesce(s.sellers_count, 0)::INTEGER as sellers_count,
    s.first_sold_date,
    s.last_sold_date
from products as p
left join sales as s using (product_id)
