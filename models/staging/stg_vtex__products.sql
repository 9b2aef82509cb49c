{{ config(materialized='view') }}
{#-
  Typed view of bronze vtex/products, flattened: ONE ROW PER PRODUCT x SKU (item) x SELLER PER
  EXTRACTION RUN. Bronze keeps the API's nesting (items[].sellers[].commertialOffer); unnesting
  here, once, lets every downstream model work on flat rows. No dedup, no business rules: a
  product extracted twice in a day has two rows, and out-of-stock offers keep their Price 0
  (the trusted layer rejects them).
  Products without items, and items without sellers, have no offer and produce no row.
  (DESIGN's "one row per product per run" is bronze's grain; staging flattens it to offers.)
-#}
with products as (
    select * from {{ source('vtex', 'products') }}
),

-- Unnesting in the select list: a lateral join (from p, unnest(p.items)) measured 50x slower.
items as (
    select
        p.store,
        p.region,
        p.productId,
        p.productName,
        p.brand,
        p.categoryId,
        p.categories,
        p."year",
        p."month",
        p."day",
        p._run_id,
        p._extracted_at,
        unnest(p.items) as item
    from products as p
),

offers as (
    select
        i.*,
        unnest(i.item.sellers) as seller
    from items as i
),

typed as (
    select
        store::VARCHAR                                              as store,
        region::VARCHAR                                             as region,
        productId                                                   as product_id,
        item.itemId                                                 as sku_id,
        productName                                                 as product_name,
        coalesce(nullif(trim(item.nameComplete), ''), nullif(trim(item.name), ''), productName) as sku_name,
        nullif(trim(brand), '')                                     as brand,
        nullif(trim(categoryId), '')                                as category_id,
        -- Deepest path: each path extends its parent, so the longest one (the API sends it first).
        nullif(list_reduce(categories, lambda a, b: case when length(b) > length(a) then b else a end, ''), '') as category_path,
        nullif(trim(item.ean), '')                                  as ean,
        nullif(lower(trim(item.measurementUnit)), '')               as measurement_unit,
        item.unitMultiplier::DOUBLE                                 as unit_multiplier,
        seller.sellerId                                             as seller_id,
        nullif(trim(seller.sellerName), '')                         as seller_name,
        -- VTEX marks the store's own offer sellerDefault; seller '1' is the store when the flag is missing.
        coalesce(seller.sellerDefault, seller.sellerId = '1')       as is_default_seller,
        seller.commertialOffer.Price::DOUBLE                        as price,
        seller.commertialOffer.ListPrice::DOUBLE                    as list_price,
        seller.commertialOffer.AvailableQuantity::DOUBLE            as available_quantity,
        seller.commertialOffer.IsAvailable                          as is_available,
        _extracted_at                                               as extracted_at,
        timezone('America/Sao_Paulo', _extracted_at)                as extracted_sp,
        timezone('America/Sao_Paulo', _extracted_at)::DATE          as price_date,
        -- The Hive day= partition (extraction date in the lake's timezone): filters on it prune files.
        make_date("year"::INTEGER, "month"::INTEGER, "day"::INTEGER) as partition_date,
        _run_id                                                     as run_id
    from offers
)

select
    store,
    region,
    product_id,
    sku_id,
    product_name,
    sku_name,
    brand,
    category_id,
    category_path,
    nullif(string_split(trim(category_path, '/'), '/')[1], '') as department,
    nullif(string_split(trim(category_path, '/'), '/')[2], '') as category,
    nullif(string_split(trim(category_path, '/'), '/')[3], '') as subcategory,
    ean,
    measurement_unit,
    unit_multiplier,
    seller_id,
    seller_name,
    is_default_seller,
    price,
    list_price,
    available_quantity,
    is_available,
    extracted_at,
    extracted_sp,
    price_date,
    partition_date,
    run_id
from typed
