{{ config(materialized='view', tags=['shop']) }}
{#-
  Typed view of bronze shop/orders: ONE ROW PER ORDERS ROW PER EXTRACTION RUN, as written (an
  order exported twice appears twice; dedup and business rules are the trusted layer's job).
  Olist writes São Paulo wall-clock times without an offset ("2024-01-01 10:00:00"), which bronze
  keeps as text: each one becomes *_sp (local TIMESTAMP), *_at (the instant, TIMESTAMPTZ) and,
  where useful, *_date (São Paulo calendar day). Olist's order_estimated_delivery_date is a date
  at midnight, so it stays a DATE.
-#}
with orders as (
    select * from {{ source('shop', 'orders') }}
),

typed as (
    select
        nullif(trim(order_id::VARCHAR), '')                                  as order_id,
        nullif(trim(customer_id::VARCHAR), '')                               as customer_id,
        nullif(lower(trim(order_status::VARCHAR)), '')                       as order_status,
        nullif(trim(order_purchase_timestamp::VARCHAR), '')::TIMESTAMP       as purchased_sp,
        nullif(trim(order_approved_at::VARCHAR), '')::TIMESTAMP              as approved_sp,
        nullif(trim(order_delivered_carrier_date::VARCHAR), '')::TIMESTAMP   as shipped_sp,
        nullif(trim(order_delivered_customer_date::VARCHAR), '')::TIMESTAMP  as delivered_sp,
        nullif(trim(order_estimated_delivery_date::VARCHAR), '')::TIMESTAMP::DATE as estimated_delivery_date,
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
    extracted_at,
    run_id
from typed
