{{ config(materialized='table') }}
{#-
  Day-over-day price moves of the store's own offer: one row per (store, region, sku_id,
  price_date) where the price differs from the previous day with a price for that SKU (gaps —
  days out of stock — are skipped: previous_price_date says which day it is compared to).
  change = new_price - previous_price; change_pct in percent of previous_price.
-#}
with daily as (
    select store, region, sku_id, product_key, product_name, price_date, price, on_promotion
    from {{ ref('fct_prices_daily') }}
),

compared as (
    select
        *,
        lag(price) over offer        as previous_price,
        lag(price_date) over offer   as previous_price_date,
        lag(on_promotion) over offer as previous_on_promotion
    from daily
    window offer as (partition by store, region, sku_id order by price_date)
)

select
    store,
    region,
    sku_id,
    price_date,
    product_key,
    product_name,
    previous_price_date,
    (price_date - previous_price_date)::INTEGER                          as days_since_previous,
    previous_price,
    price                                                                as new_price,
    price - previous_price                                               as change,
    round(100 * (price - previous_price)::DOUBLE / previous_price::DOUBLE, 2) as change_pct,
    case when price > previous_price then 'up' else 'down' end           as direction,
    previous_on_promotion,
    on_promotion
from compared
where previous_price is not null
  and price <> previous_price
