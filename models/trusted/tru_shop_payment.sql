{{ config(materialized='table', tags=['shop']) }}
{#-
  One row per (order_id, payment_sequential): the latest extraction wins. duplicates_dropped
  counts same-run copies removed by dedup. Money DECIMAL(18,2).

  Rules (audit.tru_shop_payment_rejected; first matching rule wins):
    unreadable_number                        a payment_sequential, installments or value written
                                             that is no number: stg's unreadable_numbers names it
    null_order_id, null_payment_sequential   no key
    missing_payment_type                     payment_type is empty (Olist's own unknown is 'not_defined', kept)
    missing_payment_value                    payment_value is empty: no amount to count as revenue
    negative_payment                         payment_value < 0 (0 is kept: Olist has zero vouchers)
    unknown_order                            the order is not in tru_shop_order (missing or rejected there)
-#}
{%- set orders = ref('tru_shop_order') %}
with payments as (
    select
        *,
        case when order_id is null or payment_sequential is null then 0
             else count(*) over (partition by order_id, payment_sequential, run_id) - 1 end as duplicates_dropped
    from {{ ref('stg_shop__order_payments') }}
),

latest as (
    select *
    from payments
    qualify order_id is null or payment_sequential is null
        or row_number() over (
            partition by order_id, payment_sequential
            order by extracted_at desc, run_id desc, payment_type, payment_value desc, payment_installments desc
        ) = 1
)

select
    order_id,
    payment_sequential,
    payment_type,
    payment_installments,
    payment_value,
    duplicates_dropped::INTEGER as duplicates_dropped,
    extracted_at,
    run_id
from latest
where {{ reject_if('len(unreadable_numbers) > 0', 'unreadable_number') }}
  and {{ reject_if('order_id is null', 'null_order_id') }}
  and {{ reject_if('payment_sequential is null', 'null_payment_sequential') }}
  and {{ reject_if('payment_type is null', 'missing_payment_type') }}
  and {{ reject_if('payment_value is null', 'missing_payment_value') }}
  and {{ reject_if('payment_value < 0', 'negative_payment') }}
  and {{ reject_if('order_id not in (select order_id from ' ~ orders ~ ')', 'unknown_order') }}
