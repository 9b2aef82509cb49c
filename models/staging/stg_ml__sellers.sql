{{ config(materialized='view', tags=['marketplace']) }}
{#-
  Typed view of bronze mercadolivre/sellers (/users/{id}): ONE ROW PER SELLER PER EXTRACTION,
  the reputation flattened. Ratings are shares (0..1) of the rated transactions, as the API sends
  them. level_id is '<1..5>_<colour>' ('5_green'), null for sellers without enough sales.
-#}
with users as (
    select * from {{ source('mercadolivre', 'sellers') }}
)

select
    id::BIGINT                                                        as seller_id,
    nullif(trim(nickname), '')                                        as nickname,
    registration_date                                                 as registration_date_at,
    nullif(upper(trim(country_id)), '')                               as country_id,
    nullif(upper(trim(site_id)), '')                                  as site_id,
    nullif(lower(trim(user_type)), '')                                as user_type,
    nullif(trim(permalink), '')                                       as permalink,
    -- 'BR-SP' as sent, and the UF alone.
    nullif(trim(address.state), '')                                   as state,
    nullif(regexp_replace(upper(trim(address.state)), '^BR-', ''), '') as state_uf,
    nullif(trim(address.city), '')                                    as city,
    nullif(lower(trim(seller_reputation.level_id)), '')               as level_id,
    nullif(lower(trim(seller_reputation.power_seller_status)), '')    as power_seller_status,
    nullif(trim(seller_reputation.transactions.period), '')           as transactions_period,
    seller_reputation.transactions.total::BIGINT                      as transactions_total,
    seller_reputation.transactions.completed::BIGINT                  as transactions_completed,
    seller_reputation.transactions.canceled::BIGINT                   as transactions_canceled,
    seller_reputation.transactions.ratings.positive::DOUBLE           as ratings_positive,
    seller_reputation.transactions.ratings.negative::DOUBLE           as ratings_negative,
    seller_reputation.transactions.ratings.neutral::DOUBLE            as ratings_neutral,
    _extracted_at                                                     as extracted_at,
    make_date("year"::INTEGER, "month"::INTEGER, "day"::INTEGER)      as partition_date,
    _run_id                                                           as run_id
from users
