{{ config(materialized='view', tags=['shop']) }}
{#- Typed view of bronze shop/sellers: one row per seller per extraction run. -#}
select
    nullif(trim(seller_id::VARCHAR), '')                             as seller_id,
    {{ cep_prefix('seller_zip_code_prefix') }}  as zip_code_prefix,
    nullif(lower(trim(seller_city::VARCHAR)), '')                    as city,
    nullif(upper(trim(seller_state::VARCHAR)), '')                   as state,
    _extracted_at                                                    as extracted_at,
    _run_id                                                          as run_id
from {{ source('shop', 'sellers') }}
