{{ config(materialized='view', tags=['shop']) }}
{#-
  Typed view of bronze shop/order_payments: one row per payment of an order (payment_sequential
  1, 2, … — a voucher and a card make two) per extraction run. Money as DECIMAL(18,2).
-#}
select
    nullif(trim(order_id::VARCHAR), '')                   as order_id,
    payment_sequential::INTEGER                           as payment_sequential,
    nullif(lower(trim(payment_type::VARCHAR)), '')        as payment_type,
    payment_installments::INTEGER                         as payment_installments,
    payment_value::DECIMAL(18, 2)                         as payment_value,
    _extracted_at                                         as extracted_at,
    _run_id                                               as run_id
from {{ source('shop', 'order_payments') }}
