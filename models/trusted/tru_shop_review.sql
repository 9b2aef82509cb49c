{{ config(materialized='table', tags=['shop']) }}
{#-
  One row per (review_id, order_id) — Olist reuses a review_id across the orders of one survey —
  the latest extraction wins. duplicates_dropped counts same-run copies removed by dedup.

  Rules (audit.tru_shop_review_rejected; first matching rule wins):
    null_review_id, null_order_id   no key
    unreadable_date                 a creation or answer date written that is no date
    invalid_review_score            score missing, no number ('cinco') or outside 1..5
    unknown_order                   the order is not in tru_shop_order (missing or rejected there)
-#}
{%- set orders = ref('tru_shop_order') %}
with reviews as (
    select
        *,
        case when review_id is null or order_id is null then 0
             else count(*) over (partition by review_id, order_id, run_id) - 1 end as duplicates_dropped
    from {{ ref('stg_shop__order_reviews') }}
),

latest as (
    select *
    from reviews
    qualify review_id is null or order_id is null
        or row_number() over (
            partition by review_id, order_id
            order by extracted_at desc, run_id desc, answered_sp desc nulls last, review_score
        ) = 1
)

select
    review_id,
    order_id,
    review_score,
    review_title,
    review_message,
    review_created_date,
    answered_sp,
    answered_at,
    answered_date,
    duplicates_dropped::INTEGER as duplicates_dropped,
    extracted_at,
    run_id
from latest
where {{ reject_if('review_id is null', 'null_review_id') }}
  and {{ reject_if('order_id is null', 'null_order_id') }}
  and {{ reject_if('len(unreadable_dates) > 0', 'unreadable_date') }}
  and {{ reject_if('review_score is null or review_score not between 1 and 5', 'invalid_review_score') }}
  and {{ reject_if('order_id not in (select order_id from ' ~ orders ~ ')', 'unknown_order') }}
