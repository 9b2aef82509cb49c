{{ config(
    materialized='incremental',
    unique_key=['store', 'region', 'sku_id', 'seller_id', 'price_date'],
    incremental_strategy='merge'
) }}
{#-
  One row per (store, region, sku_id, seller_id, price_date) — price_date is the São Paulo
  calendar day of the extraction. price is the last valid price of the day (by extracted_at,
  then run id), price_min/price_max the day's range, list_price the list price of that same
  observation, on_promotion = price < list_price. Money is DECIMAL(18,2).

  Rules (rows dropped before aggregating, kept in audit.tru_price_rejected, aggregated the same way):
    missing_price       Price is null: the seller sent no offer
    non_positive_price  Price <= 0: VTEX answers 0 for out-of-stock offers
  A list price below the price (or missing, or 0) is NOT a reason to drop the price, which is the
  fact customers pay: list_price is raised to the price instead (no promotion that day).

  Incremental: each build recomputes, from all bronze, the whole price_dates that may have changed:
  the latest day already in the table (more runs may land on it), and every day present in a run
  that sorts at or after the newest run built, or at or after the newest run kept for its own
  store and region (run ids sort by start time, so a backfill run is caught too; stores crawled by
  separate jobs overlap, so a store's run may commit after another store's later-started run was
  built, or commit more batches after a build that saw its first).
  Those rows replace theirs by unique_key; rows of other days are kept. A recomputed day equals
  what a full refresh computes, so incremental == full refresh. Not caught: two runs of the SAME
  store and region overlapping a build, the older one committing after it (a full refresh fixes
  that). A store and region whose every offer is rejected has no row, so its days are redone on
  every build.
-#}
{%- set bronze = source('vtex', 'products') %}
with
{%- if is_incremental() %}
-- The newest run kept per store and region. Stores are crawled by separate jobs, so a run of one
-- store can commit after a later-started run of another store was built: it sorts before the
-- table's newest run, yet after its own store's.
built as (
    select store, region, max(run_id) as run_id from {{ this }} group by store, region
),

-- The lowest of those marks over the stores in bronze ('' for a store with no row yet): no run
-- below it is redone, which lets DuckDB skip the older bronze files by their _run_id stats.
-- Reads only the partition columns (from the paths), no file data.
run_floor as (
    select min(coalesce(built.run_id, '')) as run_id
    from (select distinct store::VARCHAR as store, region::VARCHAR as region from {{ bronze }}) as b
    left join built on b.store is not distinct from built.store and b.region is not distinct from built.region
),

reprocess as (
    -- The latest day already built: more runs may still land on it.
    select max(price_date) as price_date from {{ this }}
    union
    -- Every day present in the newest run kept for its store and region and the runs after it,
    -- and in the newest run built and the runs after it (run ids sort by start time, so a late
    -- backfill of an old day counts too; >= because a run seen may have committed more batches
    -- since: a store's long crawl whose first batch was built with another store's later run).
    -- Reads only the _run_id and _extracted_at columns of the bronze files at or above run_floor.
    select distinct timezone('America/Sao_Paulo', b._extracted_at)::DATE
    from {{ bronze }} as b
    left join built on b.store::VARCHAR is not distinct from built.store and b.region::VARCHAR is not distinct from built.region
    where b._run_id >= (select run_id from run_floor)
      and (b._run_id >= coalesce(built.run_id, '') or b._run_id >= (select max(run_id) from {{ this }}))
),
{%- endif %}

offers as (
    select
        store,
        region,
        sku_id,
        seller_id,
        price_date,
        extracted_at,
        run_id,
        is_default_seller,
        price,
        list_price,
        available_quantity,
        is_available
    from {{ ref('stg_vtex__products') }}
    where {{ reject_if('price is null', 'missing_price') }}
      and {{ reject_if('price <= 0', 'non_positive_price') }}
{%- if is_incremental() %}
      and price_date in (select price_date from reprocess)
      -- Same rows, said on a stored column: DuckDB skips the bronze files whose _extracted_at
      -- min/max are all before the earliest day to redo (a filter on price_date alone reads everything).
      and extracted_at >= (select timezone('America/Sao_Paulo', min(price_date)::TIMESTAMP) from reprocess)
{%- endif %}
),

daily as (
    select
        store,
        region,
        sku_id,
        seller_id,
        price_date,
        first(price order by extracted_at desc, run_id desc)              as last_price,
        first(list_price order by extracted_at desc, run_id desc)         as last_list_price,
        min(price)                                                        as min_price,
        max(price)                                                        as max_price,
        first(is_default_seller order by extracted_at desc, run_id desc)  as is_default_seller,
        first(is_available order by extracted_at desc, run_id desc)       as is_available,
        first(available_quantity order by extracted_at desc, run_id desc) as available_quantity,
        count(*)                                                          as observations,
        min(extracted_at)                                                 as first_extracted_at,
        max(extracted_at)                                                 as last_extracted_at,
        first(run_id order by extracted_at desc, run_id desc)             as run_id
    from offers
    group by store, region, sku_id, seller_id, price_date
),

priced as (
    select
        *,
        last_price::DECIMAL(18, 2)                                                    as price,
        greatest(coalesce(last_list_price, 0), last_price)::DECIMAL(18, 2)             as list_price
    from daily
)

select
    store,
    region,
    sku_id,
    seller_id,
    price_date,
    price,
    -- The Price as VTEX sent it: a weighed item's price of one unitMultiplier has more decimals
    -- than cents (0.15 kg at R$ 34,99/kg is 5.2485); a price per kg divides this, not the cents.
    last_price                                                             as price_exact,
    list_price,
    min_price::DECIMAL(18, 2)                                              as price_min,
    max_price::DECIMAL(18, 2)                                              as price_max,
    price < list_price                                                     as on_promotion,
    round(100 * (1 - price::DOUBLE / list_price::DOUBLE), 2)               as discount_pct,
    is_default_seller,
    is_available,
    available_quantity,
    observations::INTEGER                                                  as observations,
    first_extracted_at,
    last_extracted_at,
    run_id
from priced
