{{ config(materialized='table') }}
{#-
  One row per (store, region) — a VTEX store and one of its regions / sales channels — with the size
  of its catalog and when it was first and last extracted (São Paulo dates).
  active_products_count counts the products present in the store's latest extraction day.
-#}
with products as (
    select * from {{ ref('tru_product') }}
),

stores as (
    select
        store,
        region,
        count(distinct product_id)                                    as products_count,
        count(distinct sku_id)                                        as skus_count,
        count(distinct seller_id)                                     as sellers_count,
        timezone('America/Sao_Paulo', min(first_seen_at))::DATE       as first_seen_date,
        max(last_seen_date)                                           as last_seen_date
    from products
    group by store, region
)

select
    s.store,
    s.region,
    s.products_count::INTEGER                                        as products_count,
    s.skus_count::INTEGER                                            as skus_count,
    s.sellers_count::INTEGER                                         as sellers_count,
    (
        select count(distinct p.product_id)
        from products as p
        where p.store = s.store and p.region = s.region and p.last_seen_date = s.last_seen_date
    )::INTEGER                                                       as active_products_count,
    s.first_seen_date,
    s.last_seen_date
from stores as s
