{{ config(materialized='table', tags=['shop']) }}
{#-
  One row per seller_id: the latest extraction wins. duplicates_dropped counts same-run copies
  removed by dedup.

  Rules (audit.tru_shop_seller_rejected): null_seller_id.
-#}
with sellers as (
    select
        *,
        case when seller_id is null then 0 else count(*) over (partition by seller_id, run_id) - 1 end as duplicates_dropped
    from {{ ref('stg_shop__sellers') }}
),

latest as (
    select *
    from sellers
    qualify seller_id is null
        or row_number() over (
            partition by seller_id
            order by extracted_at desc, run_id desc, zip_code_prefix, city, state
        ) = 1
)

select
    seller_id,
    zip_code_prefix,
    city,
    state,
    duplicates_dropped::INTEGER as duplicates_dropped,
    extracted_at,
    run_id
from latest
where {{ reject_if('seller_id is null', 'null_seller_id') }}
