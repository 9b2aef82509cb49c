{{ config(materialized='table', tags=['marketplace']) }}
{#-
  One row per (item_id, price_date) — price_date is the São Paulo calendar day of the
  extraction. price is the last valid price of the day (by extracted_at, then run id);
  original_price is that same observation's (the API sets it, the regular price, only while a
  promotion runs); on_promotion = original_price > price; price_min / price_max the day's range.
  Money DECIMAL(18,2). A listing read once a day gives one row a day: its price history.

  Rules (rows dropped before aggregating, kept in audit.tru_item_price_rejected, aggregated the same way):
    missing_item_id      no listing id
    missing_price        price is null
    non_positive_price   price <= 0
  An original_price at or below the price is no promotion (on_promotion false), not a reason to drop the price.
  A table (not incremental): a day's history is small and a rebuild from bronze is the truth.
-#}
with observations as (
    select item_id, seller_id, price_date, price, original_price, available_quantity, status, extracted_at, run_id
    from {{ ref('stg_ml__items') }}
    where {{ reject_if('item_id is null', 'missing_item_id') }}
      and {{ reject_if('price is null', 'missing_price') }}
      and {{ reject_if('price <= 0', 'non_positive_price') }}
),

daily as (
    select
        item_id,
        price_date,
        first(price order by extracted_at desc, run_id desc)               as price,
        first(original_price order by extracted_at desc, run_id desc)      as original_price,
        first(seller_id order by extracted_at desc, run_id desc)           as seller_id,
        first(available_quantity order by extracted_at desc, run_id desc)  as available_quantity,
        first(status order by extracted_at desc, run_id desc)              as status,
        min(price)                                                         as price_min,
        max(price)                                                         as price_max,
        count(*)                                                           as observations,
        min(extracted_at)                                                  as first_extracted_at,
        max(extracted_at)                                                  as last_extracted_at,
        first(run_id order by extracted_at desc, run_id desc)              as run_id
    from observations
    group by item_id, price_date
)

select
    item_id,
    price_date,
    seller_id,
    price,
    original_price,
    coalesce(original_price > price, false)                                              as on_promotion,
    case when original_price > price
        then round(100 * (1 - price::DOUBLE / original_price::DOUBLE), 2) else 0 end      as discount_pct,
    price_min,
    price_max,
    available_quantity,
    status,
    observations::INTEGER                                                                as observations,
    first_extracted_at,
    last_extracted_at,
    run_id
from daily
