{{ config(materialized='table') }}
{#-
  One row per (store, region, sku_id, price_date): the price of the store's own offer (the
  default seller) that day, with the product key shared across stores and the price per kg,
  per litre or per unit (the unrounded price / net_amount of the pack, see tru_product).
  Pack sizes are the latest known ones (tru_product keeps the latest name), applied to every day.
-#}
with default_offers as (
    select *
    from {{ ref('tru_price') }}
    where is_default_seller
    -- Two offers flagged default for one SKU and day would break the grain: seller '1' (the store), then the lowest id.
    qualify row_number() over (partition by store, region, sku_id, price_date order by (seller_id = '1') desc, seller_id) = 1
),

products as (
    select store, region, sku_id, seller_id, product_key, product_name, brand, pack_qty, unit, net_amount
    from {{ ref('tru_product') }}
)

select
    o.store,
    o.region,
    o.sku_id,
    o.price_date,
    p.product_key,
    o.seller_id,
    p.product_name,
    p.brand,
    o.price,
    o.list_price,
    o.on_promotion,
    o.discount_pct,
    o.price_min,
    o.price_max,
    p.pack_qty,
    p.unit,
    p.net_amount,
    -- From the unrounded Price (rows built before price_exact existed have only the cents).
    (coalesce(o.price_exact, o.price) / nullif(p.net_amount, 0))::DECIMAL(18, 4) as price_per_unit,
    o.is_available
from default_offers as o
left join products as p
    on p.store = o.store and p.region = o.region and p.sku_id = o.sku_id and p.seller_id = o.seller_id
