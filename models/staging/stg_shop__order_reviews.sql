{{ config(materialized='view', tags=['shop']) }}
{#-
  Typed view of bronze shop/order_reviews: one row per review of an order per extraction run.
  Olist's review_creation_date is the day the survey was sent (midnight), so it is a DATE; the
  answer is a wall-clock time (São Paulo).
-#}
with reviews as (
    select
        *,
        nullif(trim(review_answer_timestamp::VARCHAR), '')::TIMESTAMP as answered_sp
    from {{ source('shop', 'order_reviews') }}
)

select
    nullif(trim(review_id::VARCHAR), '')                                  as review_id,
    nullif(trim(order_id::VARCHAR), '')                                   as order_id,
    review_score::INTEGER                                                 as review_score,
    nullif(trim(review_comment_title::VARCHAR), '')                       as review_title,
    nullif(trim(review_comment_message::VARCHAR), '')                     as review_message,
    nullif(trim(review_creation_date::VARCHAR), '')::TIMESTAMP::DATE      as review_created_date,
    answered_sp,
    timezone('America/Sao_Paulo', answered_sp)                            as answered_at,
    answered_sp::DATE                                                     as answered_date,
    _extracted_at                                                         as extracted_at,
    _run_id                                                               as run_id
from reviews
