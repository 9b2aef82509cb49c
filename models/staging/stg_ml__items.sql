{{ config(materialized='view', tags=['marketplace']) }}
{#-
  Typed view of bronze mercadolivre/items (listing snapshots from the /items multiget): ONE ROW
  PER LISTING PER EXTRACTION. Run daily, the rows are the listings' price history.
  attributes and variations keep their API shape (lists of structs): tru_item reads brand, size,
  color and gender out of them. original_price is set by the API while a promotion runs (the
  regular price), null otherwise. price_date is the São Paulo day of the extraction.
-#}
with items as (
    select * from {{ source('mercadolivre', 'items') }}
)

select
    nullif(trim(id), '')                                        as item_id,
    nullif(upper(trim(site_id)), '')                            as site_id,
    nullif(trim(title), '')                                     as title,
    seller_id::BIGINT                                           as seller_id,
    nullif(trim(category_id), '')                               as category_id,
    price::DECIMAL(18, 2)                                       as price,
    base_price::DECIMAL(18, 2)                                  as base_price,
    original_price::DECIMAL(18, 2)                              as original_price,
    nullif(upper(trim(currency_id)), '')                        as currency_id,
    available_quantity::INTEGER                                 as available_quantity,
    sold_quantity::INTEGER                                      as sold_quantity,
    nullif(trim(listing_type_id), '')                           as listing_type_id,
    nullif(lower(trim(condition)), '')                          as condition,
    nullif(lower(trim(status)), '')                             as status,
    nullif(trim(permalink), '')                                 as permalink,
    coalesce(attributes, [])                                    as attributes,
    coalesce(variations, [])                                    as variations,
    len(coalesce(variations, []))::INTEGER                      as variations_count,
    date_created                                                as date_created_at,
    last_updated                                                as last_updated_at,
    _extracted_at                                               as extracted_at,
    timezone('America/Sao_Paulo', _extracted_at)                as extracted_sp,
    timezone('America/Sao_Paulo', _extracted_at)::DATE          as price_date,
    make_date("year"::INTEGER, "month"::INTEGER, "day"::INTEGER) as partition_date,
    _run_id                                                     as run_id
from items
