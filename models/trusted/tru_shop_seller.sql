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
    -- A CEP prefix that is no CEP (staging keeps it as written, its format test warns) is unknown
    -- here: an address attribute, not a reason to drop the row and its orders with it.
    case when regexp_full_match(zip_code_prefix, '[0-9]{5}') then zip_code_prefix end as zip_code_prefix,
    city,
    state,
    duplicates_dropped::INTEGER as duplicates_dropped,
    extracted_at,
    run_id
from latest
where {{ reject_if('seller_id is null', 'null_seller_id') }}
