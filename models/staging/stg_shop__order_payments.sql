{{ config(materialized='view', tags=['shop']) }}
{#-
  Typed view of bronze shop/order_payments: one row per payment of an order (payment_sequential
  1, 2, … — a voucher and a card make two) per extraction run. Money as DECIMAL(18,2). A number
  that is none ('R$ 5', '12,50') is NULL, named in unreadable_numbers (macros/read_as.sql).
-#}
select
    nullif(trim(order_id::VARCHAR), '')                   as order_id,
    {{ read_as('payment_sequential', 'INTEGER') }}           as payment_sequential,
    nullif(lower(trim(payment_type::VARCHAR)), '')        as payment_type,
    {{ read_as('payment_installments', 'INTEGER') }}         as payment_installments,
    {{ read_as('payment_value', 'DECIMAL(18, 2)') }}         as payment_value,
    list_concat({{ unreadable_as(['payment_sequential', 'payment_installments'], 'INTEGER') }}, {{ unreadable_as(['payment_value'], 'DECIMAL(18, 2)') }}) as unreadable_numbers,
    _extracted_at                                         as extracted_at,
    _run_id                                               as run_id
from {{ source('shop', 'order_payments') }}
