/**
 * Bronze contracts of the Mercado Livre datasets: records as the API returns them, nesting kept.
 * Timestamps carry the API's `-03:00` offsets and land as TIMESTAMPTZ instants.
 */
import { z } from 'zod';

const ts = z.iso.datetime({ offset: true });
/**
 * A numeric id the API may send as a digit string: the orders reference shows `buyer.id`,
 * `seller.id` and `payments[].id` as `"123456789"`. Such a string becomes the number it spells
 * (the column stays BIGINT); one past 2^53, which a double cannot hold exactly, is refused.
 */
const mlId = z.preprocess((v) => (typeof v === 'string' && /^\d+$/.test(v) && Number.isSafeInteger(Number(v)) ? Number(v) : v), z.number().int());
const attribute = z.object({ id: z.string(), name: z.string().nullable().optional(), value_id: z.string().nullable().optional(), value_name: z.string().nullable().optional() });

export const mlOrderSchema = z.object({
  id: z.number().int(),
  status: z.string(),
  status_detail: z.string().nullable().optional(),
  date_created: ts,
  date_closed: ts.nullable().optional(),
  last_updated: ts,
  total_amount: z.number(),
  paid_amount: z.number().nullable().optional(),
  currency_id: z.string(),
  buyer: z.object({ id: mlId, nickname: z.string().nullable().optional() }),
  seller: z.object({ id: mlId }),
  /** The cart (pack) of orders bought together, each an order of its own; null for a single order. */
  pack_id: z.number().int().nullable().optional(),
  order_items: z.array(
    z.object({
      item: z.object({
        id: z.string(),
        title: z.string().nullable().optional(),
        category_id: z.string().nullable().optional(),
        variation_id: z.number().int().nullable().optional(),
        seller_sku: z.string().nullable().optional(),
        variation_attributes: z.array(attribute).nullable().optional(),
      }),
      quantity: z.number().int(),
      unit_price: z.number(),
      full_unit_price: z.number().nullable().optional(),
      sale_fee: z.number().nullable().optional(),
      listing_type_id: z.string().nullable().optional(),
    }),
  ),
  payments: z.array(
    z.object({
      id: mlId,
      status: z.string(),
      payment_type: z.string().nullable().optional(),
      installments: z.number().int().nullable().optional(),
      transaction_amount: z.number(),
      total_paid_amount: z.number().nullable().optional(),
      transaction_amount_refunded: z.number().nullable().optional(),
      date_created: ts.nullable().optional(),
      date_approved: ts.nullable().optional(),
    }),
  ),
  shipping: z.object({ id: z.number().int().nullable().optional() }).nullable().optional(),
  tags: z.array(z.string()).nullable().optional(),
});

export const mlItemSchema = z.object({
  id: z.string(),
  site_id: z.string(),
  title: z.string(),
  seller_id: z.number().int(),
  category_id: z.string(),
  price: z.number(),
  base_price: z.number().nullable().optional(),
  original_price: z.number().nullable().optional(),
  currency_id: z.string(),
  available_quantity: z.number().int().nullable().optional(),
  sold_quantity: z.number().int().nullable().optional(),
  listing_type_id: z.string().nullable().optional(),
  condition: z.string().nullable().optional(),
  permalink: z.string().nullable().optional(),
  attributes: z.array(attribute),
  variations: z
    .array(z.object({ id: z.number().int(), price: z.number(), attribute_combinations: z.array(attribute), available_quantity: z.number().int().nullable().optional(), sold_quantity: z.number().int().nullable().optional() }))
    .nullable()
    .optional(),
  status: z.string(),
  date_created: ts.nullable().optional(),
  last_updated: ts.nullable().optional(),
});

export const mlUserSchema = z.object({
  id: z.number().int(),
  nickname: z.string(),
  registration_date: ts.nullable().optional(),
  country_id: z.string().nullable().optional(),
  site_id: z.string().nullable().optional(),
  user_type: z.string().nullable().optional(),
  permalink: z.string().nullable().optional(),
  address: z.object({ state: z.string().nullable().optional(), city: z.string().nullable().optional() }).nullable().optional(),
  seller_reputation: z
    .object({
      level_id: z.string().nullable().optional(),
      power_seller_status: z.string().nullable().optional(),
      transactions: z
        .object({
          period: z.string().nullable().optional(),
          total: z.number().int(),
          completed: z.number().int(),
          canceled: z.number().int(),
          ratings: z.object({ positive: z.number(), negative: z.number(), neutral: z.number() }),
        })
        .nullable()
        .optional(),
    })
    .nullable()
    .optional(),
});

export const mlSearchResultSchema = mlItemSchema.partial().extend({
  id: z.string(),
  title: z.string(),
  price: z.number(),
  seller_id: z.number().int().nullable().optional(),
  /** The site search names the seller in an object, not in `seller_id` as an item does. */
  seller: z.object({ id: z.number().int(), nickname: z.string().nullable().optional() }).nullable().optional(),
  category_id: z.string().nullable().optional(),
  attributes: z.array(attribute).nullable().optional(),
});

export const mlReviewsSchema = z.object({
  item_id: z.string(),
  rating_average: z.number().nullable().optional(),
  rating_levels: z.object({ one_star: z.number(), two_star: z.number(), three_star: z.number(), four_star: z.number(), five_star: z.number() }).nullable().optional(),
  reviews: z.array(z.object({ id: z.number().int(), date_created: ts.nullable().optional(), title: z.string().nullable().optional(), content: z.string().nullable().optional(), rate: z.number().int(), likes: z.number().int().nullable().optional(), dislikes: z.number().int().nullable().optional() })),
});

export const mlTrendSchema = z.object({ keyword: z.string(), url: z.string(), position: z.number().int(), category_id: z.string().nullable() });
