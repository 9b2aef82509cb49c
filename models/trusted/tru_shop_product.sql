{{ config(materialized='table', tags=['shop']) }}
{#-
  One row per product_id: the latest extraction wins. duplicates_dropped counts same-run copies
  removed by dedup. volume_cm3 from the package sides.

  Rules (audit.tru_shop_product_rejected): null_product_id.
-#}
with products as (
    select
        *,
        case when product_id is null then 0 else count(*) over (partition by product_id, run_id) - 1 end as duplicates_dropped
    from {{ ref('stg_shop__products') }}
),

latest as (
    select *
    from products
    qualify product_id is null
        or row_number() over (
            partition by product_id
            order by extracted_at desc, run_id desc, category, weight_g, length_cm, height_cm, width_cm
        ) = 1
)

select
    product_id,
    category,
    product_name_length,
    product_description_length,
    photos_count,
    weight_g,
    length_cm,
    height_cm,
    width_cm,
    length_cm * height_cm * width_cm as volume_cm3,
    duplicates_dropped::INTEGER      as duplicates_dropped,
    extracted_at,
    run_id
from latest
where {{ reject_if('product_id is null', 'null_product_id') }}
