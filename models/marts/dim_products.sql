{{ config(materialized='table') }}
{#-
  One row per product_key: the EAN when the SKU has one (the same product in several stores is one
  row, so stores compare), else 'store:sku_id'. Descriptive attributes come from one representative
  offer: the store's own offer first, then one whose pack size was parsed, then the most recently
  seen, then store, region, sku_id (deterministic).
-#}
with products as (
    select * from {{ ref('tru_product') }}
),

representative as (
    select *
    from products
    qualify row_number() over (
        partition by product_key
        order by is_default_seller desc, (pack_parsed_from = 'default'), last_seen_at desc, store, region, sku_id, seller_id
    ) = 1
),

coverage as (
    select
        product_key,
        count(distinct store)                  as stores_count,
        count(distinct store || ':' || sku_id) as skus_count,
        min(first_seen_at)                     as first_seen_at,
        max(last_seen_at)                      as last_seen_at
    from products
    group by product_key
)

select
    r.product_key,
    case when r.ean is not null then 'ean' else 'store_sku' end   as key_type,
    r.ean,
    r.product_name,
    r.brand,
    r.category_path,
    r.department,
    r.category,
    r.subcategory,
    r.pack_qty,
    r.unit,
    r.net_amount,
    r.pack_parsed_from,
    c.stores_count::INTEGER                                        as stores_count,
    c.skus_count::INTEGER                                          as skus_count,
    timezone('America/Sao_Paulo', c.first_seen_at)::DATE           as first_seen_date,
    timezone('America/Sao_Paulo', c.last_seen_at)::DATE            as last_seen_date
from representative as r
join coverage as c using (product_key)
