{{ config(materialized='table', tags=['shop']) }}
{#-
  One row per person of mart_customer_ltv (same population and as-of date: at least one paid order
  on or before var('as_of')):
    recency_days  days since the last paid order       R = ntile(5) by recency_days DESC: most recent = 5
    frequency     paid orders                         F = ntile(5) by frequency
    monetary      revenue of those orders             M = ntile(5) by monetary
  Ties are broken by customer_unique_id (ascending), so equal values straddling a quintile
  boundary always split the same way. rfm_score is the three digits ('545').

  Segment from R and F, first match in this order (DESIGN "Shop"):
    R 1      F 1      Lost               R 3      F 3      Need Attention
    R 1-2    F 1-2    Hibernating        R 3-4    F 4-5    Loyal Customers
    R 1-2    F 3-4    At Risk            R 4      F 1      Promising
    R 1-2    F 5      Cannot Lose Them   R 5      F 1      New Customers
    R 3      F 1-2    About to Sleep     R 4-5    F 2-3    Potential Loyalists
                                         R 5      F 4-5    Champions
-#}
with customers as (
    select * from {{ ref('mart_customer_ltv') }}
),

scored as (
    select
        customer_unique_id,
        as_of_date,
        last_order_date,
        days_since_last_order                                                  as recency_days,
        orders                                                                 as frequency,
        revenue                                                                as monetary,
        ntile(5) over (order by days_since_last_order desc, customer_unique_id) as r_score,
        ntile(5) over (order by orders, customer_unique_id)                     as f_score,
        ntile(5) over (order by revenue, customer_unique_id)                    as m_score
    from customers
),

segmented as (
    select
        *,
        case
            when r_score = 1 and f_score = 1                       then 'Lost'
            when r_score in (1, 2) and f_score in (1, 2)           then 'Hibernating'
            when r_score in (1, 2) and f_score in (3, 4)           then 'At Risk'
            when r_score in (1, 2) and f_score = 5                 then 'Cannot Lose Them'
            when r_score = 3 and f_score in (1, 2)                 then 'About to Sleep'
            when r_score = 3 and f_score = 3                       then 'Need Attention'
            when r_score in (3, 4) and f_score in (4, 5)           then 'Loyal Customers'
            when r_score = 4 and f_score = 1                       then 'Promising'
            when r_score = 5 and f_score = 1                       then 'New Customers'
            when r_score in (4, 5) and f_score in (2, 3)           then 'Potential Loyalists'
            when r_score = 5 and f_score in (4, 5)                 then 'Champions'
        end as segment
    from scored
)

select
    customer_unique_id,
    as_of_date,
    last_order_date,
    recency_days,
    frequency,
    monetary,
    r_score::INTEGER                                        as r_score,
    f_score::INTEGER                                        as f_score,
    m_score::INTEGER                                        as m_score,
    r_score::VARCHAR || f_score::VARCHAR || m_score::VARCHAR as rfm_score,
    segment,
    case segment
        when 'Champions'           then 'Reward them: early access to new products, loyalty perks, ask for reviews and referrals; no discounts needed.'
        when 'Loyal Customers'     then 'Upsell higher-value products and bundles, invite to the loyalty programme, ask for reviews.'
        when 'Potential Loyalists' then 'Offer membership or a loyalty programme and recommend related products to build the habit.'
        when 'New Customers'       then 'Onboard them: welcome series, delivery follow-up, and an incentive for a second purchase.'
        when 'Promising'           then 'Build awareness: free shipping or a small coupon on the next order, show the catalogue breadth.'
        when 'Need Attention'      then 'Reactivate with limited-time offers based on their past purchases before they slip away.'
        when 'About to Sleep'      then 'Reconnect with popular products and a time-limited discount; remind them of the shop.'
        when 'At Risk'             then 'Send personalised win-back emails with offers tied to what they bought; ask what went wrong.'
        when 'Cannot Lose Them'    then 'Win them back personally: a strong offer, a call or survey, priority service; do not lose them to competitors.'
        when 'Hibernating'         then 'Low-cost reactivation: relevant products and a special discount; otherwise keep spending low.'
        when 'Lost'                then 'Try one low-cost revival campaign; if there is no response, stop spending on them.'
    end                                                     as recommended_action
from segmented
