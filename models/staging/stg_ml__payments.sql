{{ config(materialized='view', tags=['marketplace']) }}
{#-
  Typed view of the payments of bronze mercadolivre/orders, unnested: ONE ROW PER PAYMENT PER
  ORDER VERSION (per extraction). A buyer splitting the bill makes two payments; a refund shows
  as status 'refunded' and/or transaction_amount_refunded > 0 on the payment it gives back.
-#}
with orders as (
    select * from {{ source('mercadolivre', 'orders') }}
),

payments as (
    select
        o.id,
        o.last_updated,
        o.seller,
        o._extracted_at,
        o._run_id,
        unnest(o.payments) as p
    from orders as o
)

select
    id::BIGINT                                            as order_id,
    p.id::BIGINT                                          as payment_id,
    nullif(lower(trim(p.status)), '')                     as payment_status,
    nullif(lower(trim(p.payment_type)), '')               as payment_type,
    p.installments::INTEGER                               as installments,
    p.transaction_amount::DECIMAL(18, 2)                  as transaction_amount,
    p.total_paid_amount::DECIMAL(18, 2)                   as total_paid_amount,
    coalesce(p.transaction_amount_refunded, 0)::DECIMAL(18, 2) as refunded_amount,
    p.date_created                                        as date_created_at,
    p.date_approved                                       as date_approved_at,
    seller.id::BIGINT                                     as seller_id,
    last_updated                                          as order_last_updated_at,
    _extracted_at                                         as extracted_at,
    _run_id                                               as run_id
from payments
