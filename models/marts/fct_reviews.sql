{{ config(materialized='table', tags=['shop']) }}
{#-
  One row per (review_id, order_id): a satisfaction survey answer, with the buyer, whether the
  order arrived late, and how long the answer took (hours from the survey's day to the answer).
-#}
with reviews as (
    select * from {{ ref('tru_shop_review') }}
),

orders as (
    select order_id, customer_unique_id, order_status, is_delivered, is_late, purchased_date
    from {{ ref('fct_shop_orders') }}
)

select
    r.review_id,
    r.order_id,
    o.customer_unique_id,
    r.review_score,
    case when r.review_score >= 4 then 'positive' when r.review_score = 3 then 'neutral' else 'negative' end as sentiment,
    r.review_title,
    r.review_message,
    (r.review_title is not null or r.review_message is not null)                as has_comment,
    r.review_created_date,
    r.answered_at,
    r.answered_date,
    date_diff('hour', r.review_created_date::TIMESTAMP, r.answered_sp)::INTEGER  as answer_hours,
    o.order_status,
    o.is_delivered,
    o.is_late,
    o.purchased_date
from reviews as r
join orders as o using (order_id)
