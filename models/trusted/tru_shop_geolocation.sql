{{ config(materialized='table', tags=['shop']) }}
{#-
  One row per CEP prefix (zip_code_prefix), from the latest extraction run that lists it: the
  centroid of its points (Olist lists several per prefix, exact repeats included) and its most
  frequent city and state spelling.

  Rules (points dropped before the centroid; audit.tru_shop_geolocation_rejected holds the
  rejected points aggregated the same way, one row per prefix and rule):
    null_zip_code_prefix   no key
    unreadable_number      a lat or lng written that is no number ('-23,56'): stg's unreadable_numbers
    outside_brazil         lat/lng outside Brazil's bounding box (Olist has some)
-#}
with points as (
    select *
    from {{ ref('stg_shop__geolocation') }}
    qualify run_id = first_value(run_id) over (partition by zip_code_prefix order by extracted_at desc, run_id desc)
),

valid as (
    select *
    from points
    where {{ reject_if('zip_code_prefix is null', 'null_zip_code_prefix') }}
      and {{ reject_if('len(unreadable_numbers) > 0', 'unreadable_number') }}
      and {{ reject_if('lat is null or lng is null or lat not between -34.0 and 5.5 or lng not between -74.0 and -28.5', 'outside_brazil') }}
)

select
    zip_code_prefix,
    round(avg(lat), 6)                               as lat,
    round(avg(lng), 6)                               as lng,
    mode(city order by city)                         as city,
    mode(state order by state)                       as state,
    count(*)::INTEGER                                as points_count,
    max(extracted_at)                                as extracted_at,
    max(run_id)                                      as run_id
from valid
group by zip_code_prefix
