{{ config(materialized='table', tags=['shop']) }}
{#-
  One row per (order_id, order_item_id) — one unit sold: the latest extraction wins.
  duplicates_dropped counts same-run copies removed by dedup. Money DECIMAL(18,2).

  Rules (audit.tru_shop_order_item_rejected; first matching rule wins):
    unreadable_number                   an order_item_id, price or freight_value written that is
                                        no number ('12,50', 'R$ 5'): stg's unreadable_numbers names it
    null_order_id, null_order_item_id   no key
    null_product_id                     nothing was sold
    null_seller_id                      nobody sold it
    unreadable_date                     a shipping_limit_date written that is no date
    missing_price                       price is empty (the name the prices and marketplace models use)
    non_positive_price                  price <= 0 (free or negative units are export errors)
    missing_freight                     freight_value is empty: the unit's cost is unknown
    negative_freight                    freight_value < 0 (0 is a free-shipping promotion, kept)
    unknown_order                       the order is not in tru_shop_order (missing or rejected there):
                                        its units are not sales of any valid order
-#}
{%- set orders = ref('tru_shop_order') %}
with items as (
    select
        *,
        case when order_id is null or order_item_id is null then 0
             else count(*) over (partition by order_id, order_item_id, run_id) - 1 end as duplicates_dropped
    from {{ ref('stg_shop__order_items') }}
),

latest as (
    select *
    from items
    qualify order_id is null or order_item_id is null
        or row_number() over (
            partition by order_id, order_item_id
            order by extracted_at desc, run_id desc, product_id, seller_id, price desc, freight_value desc
        ) = 1
)

select
    order_id,
    order_item_id,
    product_id,
    seller_id,
    shipping_limit_sp,
    shipping_limit_at,
    price,
    freight_value,
    duplicates_dropped::INTEGER as duplicates_dropped,
    extracted_at,
    run_id
from latest
where {{ reject_if('len(unreadable_numbers) > 0', 'unreadable_number') }}
  and {{ reject_if('order_id is null', 'null_order_id') }}
  and {{ reject_if('order_item_id is null', 'null_order_item_id') }}
  and {{ reject_if('product_id is null', 'null_product_id') }}
  and {{ reject_if('seller_id is null', 'null_seller_id') }}
  and {{ reject_if('len(unreadable_dates) > 0', 'unreadable_date') }}
  and {{ reject_if('price is null', 'missing_price') }}
  and {{ reject_if('price <= 0', 'non_positive_price') }}
  and {{ reject_if('freight_value is null', 'missing_freight') }}
  and {{ reject_if('freight_value < 0', 'negative_freight') }}
  and {{ reject_if('order_id not in (select order_id from ' ~ orders ~ ')', 'unknown_order') }}
