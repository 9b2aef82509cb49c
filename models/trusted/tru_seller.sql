{{ config(materialized='table', tags=['marketplace']) }}
{#-
  One row per seller_id: the latest /users/{id} snapshot (by extracted_at, then run id) with the
  seller's reputation:
    level_id             '1_red' … '5_green' as sent (null: not enough sales to be rated)
    reputation_level     the number of level_id (1 worst … 5 best)
    reputation_color     the colour of level_id ('green', 'light_green', 'yellow', 'orange', 'red')
    power_seller_status  'platinum' | 'gold' | 'silver' (MercadoLíder), null when not one
    transactions_*       the API's counters for transactions_period ('historic')
    completed_share      transactions_completed / transactions_total (null without transactions)
    canceled_share       transactions_canceled / transactions_total
    ratings_*_share      shares of the rated transactions (0..1, as the API sends them; null for a
                         seller with no rating yet, which the API sends as 0, 0, 0)
  Rules (audit.tru_seller_rejected): missing_seller_id; impossible_transactions (a counter below 0,
  or completed + canceled above total).
-#}
with snapshots as (
    select
        *,
        min(extracted_at) over seller                                        as first_seen_at,
        row_number() over (seller order by extracted_at desc, run_id desc)   as recency,
        coalesce(ratings_positive + ratings_negative + ratings_neutral > 0, false) as has_ratings
    from {{ ref('stg_ml__sellers') }}
    window seller as (partition by seller_id)
)

select
    seller_id,
    nickname,
    user_type,
    country_id,
    site_id,
    state,
    state_uf,
    city,
    permalink,
    registration_date_at,
    timezone('America/Sao_Paulo', registration_date_at)::DATE               as registration_date,
    level_id,
    try_cast(nullif(regexp_extract(level_id, '^([0-9]+)_', 1), '') as INTEGER) as reputation_level,
    nullif(regexp_extract(level_id, '^[0-9]+_(.+)$', 1), '')               as reputation_color,
    power_seller_status,
    transactions_period,
    transactions_total,
    transactions_completed,
    transactions_canceled,
    round(transactions_completed::DOUBLE / nullif(transactions_total, 0), 4) as completed_share,
    round(transactions_canceled::DOUBLE / nullif(transactions_total, 0), 4)  as canceled_share,
    -- A seller nobody rated yet gets 0, 0, 0 from the API: no shares, not 0% positive.
    case when has_ratings then ratings_positive end                         as ratings_positive_share,
    case when has_ratings then ratings_negative end                         as ratings_negative_share,
    case when has_ratings then ratings_neutral end                          as ratings_neutral_share,
    first_seen_at,
    extracted_at                                                            as last_seen_at,
    timezone('America/Sao_Paulo', extracted_at)::DATE                       as last_seen_date,
    run_id                                                                  as last_run_id
from snapshots
where recency = 1
  and {{ reject_if('seller_id is null', 'missing_seller_id') }}
  and {{ reject_if('transactions_total < 0 or transactions_completed < 0 or transactions_canceled < 0 or transactions_completed + transactions_canceled > transactions_total', 'impossible_transactions') }}
