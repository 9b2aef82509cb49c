{{ config(materialized='view', tags=['shop']) }}
{#-
  Typed view of bronze shop/customers: one row per customers row per extraction run. Olist mints
  a customer_id for every order; customer_unique_id is the person. CEP prefixes are text with
  their leading zero ('01310'): the CSV sniffer may have read them as integers.
-#}
select
    nullif(trim(customer_id::VARCHAR), '')                           as customer_id,
    nullif(trim(customer_unique_id::VARCHAR), '')                    as customer_unique_id,
    {{ cep_prefix('customer_zip_code_prefix') }} as zip_code_prefix,
    nullif(lower(trim(customer_city::VARCHAR)), '')                  as city,
    nullif(upper(trim(customer_state::VARCHAR)), '')                 as state,
    _extracted_at                                                    as extracted_at,
    _run_id                                                          as run_id
from {{ source('shop', 'customers') }}
