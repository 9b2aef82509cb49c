{{ config(materialized='view', tags=['shop']) }}
{#-
  Typed view of bronze shop/products: one row per product per extraction run. Olist's misspelt
  product_name_lenght / product_description_lenght are spelt right from here on.
-#}
select
    nullif(trim(product_id::VARCHAR), '')                 as product_id,
    nullif(lower(trim(product_category_name::VARCHAR)), '') as category,
    {{ read_as('product_name_lenght', 'INTEGER') }}                as product_name_length,
    {{ read_as('product_description_lenght', 'INTEGER') }}         as product_description_length,
    {{ read_as('product_photos_qty', 'INTEGER') }}                 as photos_count,
    {{ read_as('product_weight_g', 'INTEGER') }}                   as weight_g,
    {{ read_as('product_length_cm', 'INTEGER') }}                  as length_cm,
    {{ read_as('product_height_cm', 'INTEGER') }}                  as height_cm,
    {{ read_as('product_width_cm', 'INTEGER') }}                   as width_cm,
    -- Attributes, not the sale: a size that is no number is NULL (the product stays), named here.
    {{ unreadable_as(['product_name_lenght', 'product_description_lenght', 'product_photos_qty', 'product_weight_g', 'product_length_cm', 'product_height_cm', 'product_width_cm'], 'INTEGER') }} as unreadable_numbers,
    _extracted_at                                         as extracted_at,
    _run_id                                               as run_id
from {{ source('shop', 'products') }}
