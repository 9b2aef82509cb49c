{{ config(materialized='table', tags=['shop']) }}
{#-
  One row per customer_id (Olist mints one per order; customer_unique_id is the person): the
  latest extraction wins. duplicates_dropped counts same-run copies removed by dedup.

  Rules (audit.tru_shop_customer_rejected):
    null_customer_id         no key
    null_customer_unique_id  no person behind the customer_id
-#}
with customers as (
    select
        *,
        case when customer_id is null then 0 else count(*) over (partition by customer_id, run_id) - 1 end as duplicates_dropped
    from {{ ref('stg_shop__customers') }}
),

latest as (
    select *
    from customers
    qualify customer_id is null
        or row_number() over (
            partition by customer_id
            order by extracted_at desc, run_id desc, customer_unique_id, zip_code_prefix, city, state
        ) = 1
)

select
    customer_id,
    customer_unique_id,
    -- A CEP prefix that is no CEP (staging keeps it as written, its format test warns) is unknown
    -- here: an address attribute, not a reason to drop the row and its orders with it.
    case when regexp_full_match(zip_code_prefix, '[0-9]{5}') then zip_code_prefix end as zip_code_prefix,
    city,
    state,
    duplicates_dropped::INTEGER as duplicates_dropped,
    extracted_at,
    run_id
from latest
where {{ reject_if('customer_id is null', 'null_customer_id') }}
  and {{ reject_if('customer_unique_id is null', 'null_customer_unique_id') }}
