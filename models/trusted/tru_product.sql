{{ config(materialized='table') }}
{#-
  One row per (store, region, sku_id, seller_id): the latest extraction wins (by extracted_at,
  then run id). Carries the identity of the offer (EAN, brand, category path) and its pack size
  parsed from the SKU name (see macros/pack_size.sql), plus product_key, the key of dim_products:
  the EAN when the SKU has a valid one (so stores compare), else 'store:sku_id'.
  Out-of-stock offers (Price 0) are kept here: the product exists even when it has no price today.
-#}
with offers as (
    select
        *,
        min(extracted_at) over offer as first_seen_at,
        row_number() over (offer order by extracted_at desc, run_id desc, product_id desc) as recency
    from {{ ref('stg_vtex__products') }}
    window offer as (partition by store, region, sku_id, seller_id)
),

latest as (
    select
        *,
        -- A GTIN has 8, 12, 13 or 14 digits; anything else ('SEM GTIN', '0', internal codes) is no EAN.
        -- A GTIN is a number: a 12- or 14-digit code with leading zeros (UPC-A 012345678905, GTIN-14
        -- 07891000100103) is the EAN-13 it pads, so stores writing it either way compare. An EAN-8
        -- padded to 13 or 14 digits (00000078912342, as GS1 writes it in a GTIN-14 field) is that EAN-8.
        case
            when not regexp_full_match(ean, '[0-9]{8}|[0-9]{12,14}') or regexp_full_match(ean, '0+') then null
            when length(ltrim(ean, '0')) <= 8 then lpad(ltrim(ean, '0'), 8, '0')
            when length(ean) >= 12 and length(ltrim(ean, '0')) <= 13 then lpad(ltrim(ean, '0'), 13, '0')
            else ean
        end as valid_ean,
        {{ pack_size('sku_name', 'measurement_unit', 'unit_multiplier') }} as pack
    from offers
    where recency = 1
)

select
    store,
    region,
    sku_id,
    seller_id,
    coalesce(valid_ean, store || ':' || sku_id)   as product_key,
    product_id,
    valid_ean                                     as ean,
    product_name,
    sku_name,
    brand,
    category_id,
    category_path,
    department,
    category,
    subcategory,
    seller_name,
    is_default_seller,
    measurement_unit,
    unit_multiplier,
    pack.pack_qty                                 as pack_qty,
    pack.unit                                     as unit,
    pack.net_amount                               as net_amount,
    pack.parsed_from                              as pack_parsed_from,
    first_seen_at,
    extracted_at                                  as last_seen_at,
    price_date                                    as last_seen_date,
    run_id                                        as last_run_id
from latest
