{{ config(materialized='view', tags=['marketplace']) }}
{#-
  Typed view of bronze mercadolivre/orders: ONE ROW PER ORDER PER EXTRACTION (an order version).
  An order read by two runs (a re-sync, an overlapping window) appears twice, possibly with a
  different status: tru_order keeps the latest. No business rules here.

  The nested lists stay in bronze shape for stg_ml__order_items / stg_ml__payments; the rollups
  this version's lists give (items, units, refunds…) are computed here, once, so the trusted
  layer needs no join to know them. Money DECIMAL(18,2); the API's -03:00 timestamps are
  TIMESTAMPTZ instants (*_at), São Paulo local copies are added in trusted.
-#}
with orders as (
    select
        *,
        -- The payments that went through (money moved): a declined attempt says nothing of how
        -- the order was paid. Orders with none (payment_required) fall back to their attempts.
        coalesce(nullif(list_filter(payments, lambda p: p.status in ('approved', 'refunded', 'charged_back')), []), payments) as _counted_payments
    from {{ source('mercadolivre', 'orders') }}
),

typed as (
    select
        id::BIGINT                                                        as order_id,
        nullif(lower(trim(status)), '')                                   as status,
        nullif(trim(status_detail), '')                                   as status_detail,
        date_created                                                      as date_created_at,
        date_closed                                                       as date_closed_at,
        last_updated                                                      as last_updated_at,
        total_amount::DECIMAL(18, 2)                                      as total_amount,
        paid_amount::DECIMAL(18, 2)                                       as paid_amount,
        nullif(upper(trim(currency_id)), '')                              as currency_id,
        buyer.id::BIGINT                                                  as buyer_id,
        nullif(trim(buyer.nickname), '')                                  as buyer_nickname,
        -- The order's own seller (the Hive partition seller_id= says which account was extracted).
        seller.id::BIGINT                                                 as seller_id,
        shipping.id::BIGINT                                               as shipping_id,
        coalesce(tags, [])                                                as tags,
        -- Rollups of this version's order lines.
        len(coalesce(order_items, []))::INTEGER                           as lines_count,
        coalesce(list_sum(list_transform(order_items, lambda oi: oi.quantity)), 0)::INTEGER as units_count,
        coalesce(list_sum(list_transform(order_items, lambda oi: oi.unit_price * oi.quantity)), 0)::DECIMAL(18, 2) as items_amount,
        coalesce(list_sum(list_transform(order_items, lambda oi: coalesce(oi.sale_fee, 0) * oi.quantity)), 0)::DECIMAL(18, 2) as sale_fee_amount,
        -- Rollups of this version's payments (a payment refunded in full or in part says so in transaction_amount_refunded).
        len(coalesce(payments, []))::INTEGER                              as payments_count,
        coalesce(list_sum(list_transform(list_filter(payments, lambda p: p.status in ('approved', 'refunded', 'charged_back')), lambda p: p.transaction_amount)), 0)::DECIMAL(18, 2) as approved_amount,
        coalesce(list_sum(list_transform(payments, lambda p: coalesce(p.transaction_amount_refunded, 0))), 0)::DECIMAL(18, 2) as refunded_amount,
        -- The payment that went through carrying most of the amount (first one on ties).
        _counted_payments[list_position(
            list_transform(_counted_payments, lambda p: p.transaction_amount),
            list_max(list_transform(_counted_payments, lambda p: p.transaction_amount))
        )].payment_type                                                   as main_payment_type,
        list_max(list_transform(_counted_payments, lambda p: p.installments))::INTEGER as max_installments,
        _extracted_at                                                     as extracted_at,
        make_date("year"::INTEGER, "month"::INTEGER, "day"::INTEGER)      as partition_date,
        _run_id                                                           as run_id
    from orders
)

select * from typed
