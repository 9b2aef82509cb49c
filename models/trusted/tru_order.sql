{{ config(materialized='table', tags=['marketplace']) }}
{#-
  One row per order_id: the latest version of the order wins — the highest last_updated_at,
  then the latest extraction (extracted_at, then run id). Versions come from every extraction
  (incremental runs by date_created, re-syncs such as `last: N`), so a status change seen by a
  later run replaces the earlier status.

  The dedup happens BEFORE the rules: an order whose latest version breaks a rule is dropped (and
  audited) rather than replaced by an older, valid but stale version.
  Rules (kept in audit.tru_order_rejected with the rule's name, first matching rule wins):
    missing_buyer               no buyer id
    missing_seller              no seller id
    negative_total              total_amount < 0 (or null)
    negative_paid               paid_amount < 0
    refund_above_paid           refunds exceed what was approved (a refund gives back a payment)
    closed_before_created       date_closed_at < date_created_at
    updated_before_created      last_updated_at < date_created_at
    created_after_extraction    created more than a day after the run that read it (a clock problem)
    order_without_items         no order line at all
  Time: *_at TIMESTAMPTZ instants; *_sp São Paulo wall-clock TIMESTAMP; *_date São Paulo dates.
  Money DECIMAL(18,2).

  Revenue (used by fct_orders and dim_sellers): is_paid_revenue is true for status 'paid' and
  'partially_refunded' (money the seller kept, at least in part); net_paid_amount is, for those
  orders, paid_amount − refunded_amount (never below 0), and 0 for every other status (cancelled
  orders, including ones paid then returned, and orders still waiting for payment).
-#}
with versions as (
    select
        *,
        count(*) over (partition by order_id)    as versions_count,
        min(extracted_at) over (partition by order_id) as first_extracted_at,
        row_number() over (
            partition by order_id
            order by last_updated_at desc nulls last, extracted_at desc, run_id desc
        ) as recency
    from {{ ref('stg_ml__orders') }}
),

latest as (
    select * from versions where recency = 1
)

select
    order_id,
    status,
    status_detail,
    seller_id,
    buyer_id,
    buyer_nickname,
    currency_id,
    total_amount,
    paid_amount,
    items_amount,
    approved_amount,
    refunded_amount,
    sale_fee_amount,
    status in ('paid', 'partially_refunded')                                          as is_paid_revenue,
    (case
        when status in ('paid', 'partially_refunded')
            then greatest(coalesce(paid_amount, 0) - refunded_amount, 0)
        else 0
    end)::DECIMAL(18, 2)                                                              as net_paid_amount,
    lines_count                                                                       as items_count,
    units_count,
    payments_count,
    main_payment_type,
    max_installments,
    shipping_id,
    tags,
    date_created_at,
    timezone('America/Sao_Paulo', date_created_at)                                    as date_created_sp,
    timezone('America/Sao_Paulo', date_created_at)::DATE                              as date_created_date,
    date_closed_at,
    timezone('America/Sao_Paulo', date_closed_at)                                     as date_closed_sp,
    last_updated_at,
    timezone('America/Sao_Paulo', last_updated_at)                                    as last_updated_sp,
    versions_count::INTEGER                                                           as versions_count,
    first_extracted_at,
    extracted_at,
    run_id
from latest
where {{ reject_if('buyer_id is null', 'missing_buyer') }}
  and {{ reject_if('seller_id is null', 'missing_seller') }}
  and {{ reject_if('total_amount is null or total_amount < 0', 'negative_total') }}
  and {{ reject_if('paid_amount < 0', 'negative_paid') }}
  and {{ reject_if('refunded_amount > approved_amount', 'refund_above_paid') }}
  and {{ reject_if('date_closed_at < date_created_at', 'closed_before_created') }}
  and {{ reject_if('last_updated_at < date_created_at', 'updated_before_created') }}
  and {{ reject_if("date_created_at > extracted_at + interval 1 day", 'created_after_extraction') }}
  and {{ reject_if('lines_count = 0', 'order_without_items') }}
