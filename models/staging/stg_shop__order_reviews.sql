{{ config(materialized='view', tags=['shop']) }}
{#-
  Typed view of bronze shop/order_reviews: one row per review of an order per extraction run.
  Olist's review_creation_date is the day the survey was sent (midnight), so it is a DATE; the
  answer is a wall-clock time (São Paulo). A date that is no date is NULL, named in
  unreadable_dates (macros/wall_clock.sql).
-#}
with reviews as (
    select
        *,
        {{ wall_clock('review_answer_timestamp') }} as answered_sp,
        {{ unreadable_dates(['review_creation_date', 'review_answer_timestamp']) }} as unreadable_dates
    from {{ source('shop', 'order_reviews') }}
)

select
    nullif(trim(review_id::VARCHAR), '')                                  as review_id,
    nullif(trim(order_id::VARCHAR), '')                                   as order_id,
    -- A score that is no number is NULL: tru_shop_review rejects it (invalid_review_score).
    {{ read_as('review_score', 'INTEGER') }}                                 as review_score,
    nullif(trim(review_comment_title::VARCHAR), '')                       as review_title,
    nullif(trim(review_comment_message::VARCHAR), '')                     as review_message,
    {{ wall_clock('review_creation_date') }}::DATE                         as review_created_date,
    answered_sp,
    timezone('America/Sao_Paulo', answered_sp)                            as answered_at,
    answered_sp::DATE                                                     as answered_date,
    unreadable_dates,
    _extracted_at                                                         as extracted_at,
    _run_id                                                               as run_id
from reviews
