{{ config(materialized='table', tags=['shop']) }}
{#-
  One row per order_id: the latest extraction wins (by extracted_at, then run id; within one run,
  the row that got furthest in the order's life). duplicates_dropped counts the other rows of the
  same order in that same run — exact copies of the export — which are deduplicated, NOT rejected:
  sum(duplicates_dropped) is the number of duplicate rows removed.

  Rules (rows dropped after dedup, kept in audit.tru_shop_order_rejected; first matching rule wins):
    null_order_id              no key
    null_customer_id           the order belongs to nobody
    missing_order_status       no status: the order is neither paid nor unpaid (is_paid would be NULL)
    unreadable_date            a timestamp written that is no timestamp ('2024-02-30 10:00:00',
                               '25/12/2024 14:30'): stg_shop__orders.unreadable_dates names it
    null_purchase_date         no purchase timestamp: the order has no day, hour or age to count in
    delivered_before_purchase  delivered_at < purchased_at
    out_of_range_date          a date before 2000-01-01, an estimated delivery from 2100 on, or an
                               event (purchase, approval, carrier, delivery) after the row was
                               extracted: it cannot have happened yet (catches years like 2099)
    unknown_customer           customer_id not in tru_shop_customer (no person to attach it to)
-#}
{%- set customers = ref('tru_shop_customer') %}
with orders as (
    select
        *,
        case when order_id is null then 0 else count(*) over (partition by order_id, run_id) - 1 end as duplicates_dropped
    from {{ ref('stg_shop__orders') }}
),

latest as (
    select *
    from orders
    -- Null keys are not collapsed into one row: each is rejected on its own below.
    qualify order_id is null
        or row_number() over (
            partition by order_id
            order by extracted_at desc, run_id desc,
                     delivered_sp desc nulls last, shipped_sp desc nulls last, approved_sp desc nulls last, order_status
        ) = 1
)

select
    order_id,
    customer_id,
    order_status,
    order_status in ('approved', 'invoiced', 'processing', 'shipped', 'delivered') as is_paid,
    order_status = 'delivered'                                                       as is_delivered,
    purchased_sp,
    purchased_at,
    purchased_date,
    approved_sp,
    approved_at,
    shipped_sp,
    shipped_at,
    delivered_sp,
    delivered_at,
    delivered_date,
    estimated_delivery_date,
    duplicates_dropped::INTEGER                                                      as duplicates_dropped,
    extracted_at,
    run_id
from latest
where {{ reject_if('order_id is null', 'null_order_id') }}
  and {{ reject_if('customer_id is null', 'null_customer_id') }}
  and {{ reject_if('order_status is null', 'missing_order_status') }}
  and {{ reject_if('len(unreadable_dates) > 0', 'unreadable_date') }}
  and {{ reject_if('purchased_at is null', 'null_purchase_date') }}
  and {{ reject_if('delivered_at < purchased_at', 'delivered_before_purchase') }}
  and {{ reject_if("least(purchased_sp, approved_sp, shipped_sp, delivered_sp, estimated_delivery_date::TIMESTAMP) < TIMESTAMP '2000-01-01' or estimated_delivery_date >= DATE '2100-01-01' or greatest(purchased_at, approved_at, shipped_at, delivered_at) > extracted_at", 'out_of_range_date') }}
  and {{ reject_if('customer_id not in (select customer_id from ' ~ customers ~ ')', 'unknown_customer') }}
