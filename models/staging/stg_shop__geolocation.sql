{{ config(materialized='view', tags=['shop']) }}
{#-
  Typed view of bronze shop/geolocation: one row per point per extraction run. Olist lists
  several points (and sometimes several city spellings) per CEP prefix; the trusted model keeps one.
-#}
select
    {{ cep_prefix('geolocation_zip_code_prefix') }} as zip_code_prefix,
    {{ read_as('geolocation_lat', 'DOUBLE') }}                           as lat,
    {{ read_as('geolocation_lng', 'DOUBLE') }}                           as lng,
    {{ unreadable_as(['geolocation_lat', 'geolocation_lng'], 'DOUBLE') }} as unreadable_numbers,
    nullif(lower(trim(geolocation_city::VARCHAR)), '')                as city,
    nullif(upper(trim(geolocation_state::VARCHAR)), '')               as state,
    _extracted_at                                                     as extracted_at,
    _run_id                                                           as run_id
from {{ source('shop', 'geolocation') }}
