/**
 * The bronze contract of `vtex/products`: one row per product as the catalog search API returns
 * it, nesting kept (`items[].sellers[].commertialOffer`). Fields we do not type stay out of
 * bronze only if the API stops sending them; unknown extra fields are dropped by the schema.
 * Records without `productId` fail validation and go to quarantine.
 */
import { z } from 'zod';

const offer = z.object({
  Price: z.number().nullable().optional(),
  ListPrice: z.number().nullable().optional(),
  PriceWithoutDiscount: z.number().nullable().optional(),
  PriceValidUntil: z.string().nullable().optional(),
  AvailableQuantity: z.number().nullable().optional(),
  IsAvailable: z.boolean().nullable().optional(),
});

const seller = z.object({
  sellerId: z.string(),
  sellerName: z.string().nullable().optional(),
  sellerDefault: z.boolean().nullable().optional(),
  commertialOffer: offer,
});

const item = z.object({
  itemId: z.string(),
  name: z.string().nullable().optional(),
  nameComplete: z.string().nullable().optional(),
  ean: z.string().nullable().optional(),
  measurementUnit: z.string().nullable().optional(),
  unitMultiplier: z.number().nullable().optional(),
  sellers: z.array(seller),
});

export const vtexProductSchema = z.object({
  productId: z.string().min(1),
  productName: z.string(),
  brand: z.string().nullable().optional(),
  brandId: z.number().int().nullable().optional(),
  linkText: z.string().nullable().optional(),
  productReference: z.string().nullable().optional(),
  categoryId: z.string().nullable().optional(),
  /** Deepest path first: `/Bebidas/Vinhos/Vinho Tinto/`, `/Bebidas/Vinhos/`, `/Bebidas/`. */
  categories: z.array(z.string()).nullable().optional(),
  categoriesIds: z.array(z.string()).nullable().optional(),
  link: z.string().nullable().optional(),
  releaseDate: z.string().nullable().optional(),
  items: z.array(item),
});

export type VtexProductRecord = z.infer<typeof vtexProductSchema>;
