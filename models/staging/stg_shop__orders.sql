{{ config(materialized='view', tags=['shop']) }}
{#-
  Typed view of bronze shop/orders: ONE ROW PER ORDERS ROW PER EXTRACTION RUN, as written (an
  order exported twice appears twice; dedup and business rules are the trusted layer's job).
  Olist writes São Paulo wall-clock times without an offset ("2024-01-01 10:00:00"), which bronze
  keeps as text; a time another export writes with an offset ("…T01:00:00Z") is the instant it
  names (macros/wall_clock.sql), so events compare as instants whatever offsets they came in.
  Each one becomes *_sp (local TIMESTAMP), *_at (the instant, TIMESTAMPTZ) and,
  where useful, *_date (São Paulo calendar day). Olist's order_estimated_delivery_date is a date
  at midnight, so it stays a DATE. A date that is no date ('2024-02-30 10:00:00', '25/12/2024')
  is NULL here and named in unreadable_dates ('field=text'): tru_shop_order rejects the row.
-#}
with orders as (
    select * from {{ source('shop', 'orders') }}
),

typed as (
    select
        nullif(trim(order_id::VARCHAR), '')                                  as order_id,
        nullif(trim(customer_id::VARCHAR), '')                               as customer_id,
        nullif(lower(trim(order_status::VARCHAR)), '')                       as order_status,
        {{ wall_clock('order_purchase_timestamp') }}       as purchased_sp,
        {{ wall_clock('order_approved_at') }}              as approved_sp,
        {{ wall_clock('order_delivered_carrier_date') }}   as shipped_sp,
        {{ wall_clock('order_delivered_customer_date') }}  as delivered_sp,
        {{ wall_clock('order_estimated_delivery_date') }}::DATE as estimated_delivery_date,
        {{ unreadable_dates(['order_purchase_timestamp', 'order_approved_at', 'order_delivered_carrier_date', 'order_delivered_customer_date', 'order_estimated_delivery_date']) }} as unreadable_dates,
        _extracted_at                                                        as extracted_at,
        _run_id                                                              as run_id
    from orders
)

select
    order_id,
    customer_id,
    order_status,
    purchased_sp,
    timezone('America/Sao_Paulo', purchased_sp)   as purchased_at,
    purchased_sp::DATE                            as purchased_date,
    approved_sp,
    timezone('America/Sao_Paulo', approved_sp)    as approved_at,
    shipped_sp,
    timezone('America/Sao_Paulo', shipped_sp)     as shipped_at,
    delivered_sp,
    timezone('America/Sao_Paulo', delivered_sp)   as delivered_at,
    delivered_sp::DATE                            as delivered_date,
    estimated_delivery_date,
    unreadable_dates,
    extracted_at,
    run_id
from typed
