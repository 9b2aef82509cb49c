{{ config(materialized='table', tags=['shop']) }}
{#-
  One row per São Paulo calendar day (date_day), whole years from the first order's year to the
  last year any shop date reaches (purchases, deliveries, delivery estimates, review answers),
  so every *_date of the shop facts finds its day: its range follows the shop's data.

  Weekdays are ISO (1 = Monday … 7 = Sunday); names are English. Commercial dates:
    Black Friday     the day after the fourth Thursday of November (as in the US and in Brazil)
    its weekend      Black Friday to the Sunday after; Cyber Monday the Monday after
    Christmas week   18–24 December (the shopping peak); Christmas Day 25 December
    Mother's Day     second Sunday of May (Brazil), and the week before it (gift shopping)
-#}
with bounds as (
    select
        make_date(year(min(purchased_date))::INTEGER, 1, 1)  as first_day,
        make_date(greatest(
            year(max(purchased_date)),
            year(max(delivered_date)),
            year(max(estimated_delivery_date)),
            coalesce((select year(max(answered_date)) from {{ ref('fct_reviews') }}), 0)
        )::INTEGER, 12, 31)                                  as last_day
    from {{ ref('fct_shop_orders') }}
),

days as (
    select unnest(generate_series(first_day, last_day, interval 1 day))::DATE as date_day
    from bounds
    where first_day is not null
),

marked as (
    select
        date_day,
        make_date(year(date_day)::INTEGER, 11, 1) as nov1,
        make_date(year(date_day)::INTEGER, 5, 1)  as may1
    from days
),

commercial as (
    select
        date_day,
        -- First Thursday of November + 3 weeks = Thanksgiving; Black Friday is the day after.
        (nov1 + ((4 - isodow(nov1) + 7) % 7)::INTEGER + 22)    as black_friday,
        (may1 + ((7 - isodow(may1)) % 7)::INTEGER + 7)         as mothers_day
    from marked
)

select
    date_day,
    year(date_day)::INTEGER                                   as year,
    quarter(date_day)::INTEGER                                as quarter,
    month(date_day)::INTEGER                                  as month,
    strftime(date_day, '%B')                                  as month_name,
    strftime(date_day, '%Y-%m')                               as year_month,
    day(date_day)::INTEGER                                    as day_of_month,
    dayofyear(date_day)::INTEGER                              as day_of_year,
    isodow(date_day)::INTEGER                                 as day_of_week,
    strftime(date_day, '%A')                                  as weekday_name,
    isodow(date_day) >= 6                                     as is_weekend,
    weekofyear(date_day)::INTEGER                             as iso_week,
    -- The year iso_week belongs to: 30 December 2024 is week 1 of 2025 (group by iso_year, iso_week).
    isoyear(date_day)::INTEGER                                as iso_year,
    date_trunc('week', date_day)::DATE                        as week_start_date,
    date_trunc('month', date_day)::DATE                       as month_start_date,
    date_day = black_friday                                   as is_black_friday,
    date_day between black_friday and black_friday + 2        as is_black_friday_weekend,
    date_day = black_friday + 3                               as is_cyber_monday,
    month(date_day) = 12 and day(date_day) between 18 and 24  as is_christmas_week,
    month(date_day) = 12 and day(date_day) = 25               as is_christmas,
    date_day = mothers_day                                    as is_mothers_day,
    date_day between mothers_day - 7 and mothers_day - 1      as is_mothers_day_week,
    case
        when date_day = black_friday then 'Black Friday'
        when date_day = black_friday + 3 then 'Cyber Monday'
        when month(date_day) = 12 and day(date_day) = 24 then 'Christmas Eve'
        when month(date_day) = 12 and day(date_day) = 25 then 'Christmas Day'
        when date_day = mothers_day then 'Mother''s Day'
    end                                                       as holiday_name
from commercial
