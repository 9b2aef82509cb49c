/**
 * A deterministic generator of e-commerce CSV files in the shape of the public Brazilian
 * e-commerce dataset by Olist (same file split, same column names, including Olist's
 * `product_name_lenght` misspelling), with a controlled share of dirty rows for the trusted
 * models to reject. The shop models and their tests run on it, so it never needs the network.
 */
import { mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { atomicTmpName } from '../../bronze/commit.js';
import { ConfigError } from '../../errors.js';

// ───────────────────────────── public types ─────────────────────────────

/** Options of {@link generateShopDataset}. */
export interface GenerateShopDatasetOptions {
  /** Same seed and options → byte-identical files. A safe integer ≥ 0 or a non-empty string (`42` and `'42'` are the same seed). */
  seed: number | string;
  /** People (distinct `customer_unique_id`); each places one or more orders. */
  customers: number;
  /** Span of purchase dates in days, starting at `startDate`. */
  days: number;
  /** Folder for the CSV files; created when missing. */
  outDir: string;
  /** First purchase date, São Paulo calendar, `YYYY-MM-DD`. Default `2024-01-01`. */
  startDate?: string;
  /** Share of orders that carry exactly one dirty row, in [0, 0.5]. Default 0.02. */
  dirtyShare?: number;
}

export type ShopTable =
  | 'customers'
  | 'orders'
  | 'order_items'
  | 'order_payments'
  | 'order_reviews'
  | 'products'
  | 'sellers'
  | 'geolocation';

/** The kinds of dirt, each named after the rule a trusted model should reject it with. */
export type ShopDirtKind =
  | 'duplicate_order_row'
  | 'null_customer_id'
  | 'null_product_id'
  | 'non_positive_price'
  | 'delivered_before_purchase'
  | 'out_of_range_date'
  | 'negative_payment';

export const SHOP_DIRT_KINDS: readonly ShopDirtKind[] = [
  'duplicate_order_row',
  'null_customer_id',
  'null_product_id',
  'non_positive_price',
  'delivered_before_purchase',
  'out_of_range_date',
  'negative_payment',
];

export interface GenerateShopDatasetResult {
  /** Absolute path of the folder holding the files. */
  outDir: string;
  /** Every file written, with its data rows (header excluded, duplicate rows included). */
  files: Record<ShopTable, { path: string; rows: number }>;
  /** Dirty rows written, per kind; each dirty order carries exactly one. */
  dirty: Record<ShopDirtKind, number>;
  /** Distinct people (`customer_unique_id`). */
  customers: number;
  /** Distinct orders (`order_id`); orders.csv has `orders + dirty.duplicate_order_row` rows. */
  orders: number;
}

// ───────────────────────────── options ─────────────────────────────

const DEFAULT_START_DATE = '2024-01-01';
const DEFAULT_DIRTY_SHARE = 0.02;
const MAX_CUSTOMERS = 1_000_000;
const MAX_DAYS = 3660;
// Keeps every clean date far from the 1970 / 2099 dates used as dirt.
const MIN_START_YEAR = 2000;
const MAX_START_YEAR = 2079;

const RULES: Record<keyof GenerateShopDatasetOptions, string> = {
  seed: 'must be a non-negative safe integer or a non-empty string',
  customers: `must be a positive integer up to ${MAX_CUSTOMERS}`,
  days: `must be a positive integer up to ${MAX_DAYS}`,
  outDir: 'must be a non-empty path',
  startDate: `must be a calendar date YYYY-MM-DD in years ${MIN_START_YEAR}–${MAX_START_YEAR}`,
  dirtyShare: 'must be a number between 0 and 0.5',
};

const optionsSchema = z.strictObject({
  seed: z.union([z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), z.string().min(1)]),
  customers: z.number().int().min(1).max(MAX_CUSTOMERS),
  days: z.number().int().min(1).max(MAX_DAYS),
  outDir: z.string().min(1),
  startDate: z
    .string()
    .refine((text) => parseCalendarDate(text) !== undefined)
    .default(DEFAULT_START_DATE),
  dirtyShare: z.number().min(0).max(0.5).default(DEFAULT_DIRTY_SHARE),
});

type ParsedOptions = z.infer<typeof optionsSchema>;

/** The one place that throws for a bad option. */
function invalidOption(field: string, message: string): never {
  const subject = field === '' ? 'options' : `option "${field}"`;
  throw new ConfigError(`generateShopDataset: ${subject} ${message}`);
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (value === undefined || value === null) return String(value);
  const text = JSON.stringify(value) ?? typeof value;
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function parseOptions(options: unknown): ParsedOptions {
  const result = optionsSchema.safeParse(options);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue === undefined) return invalidOption('', 'are invalid');
  if (issue.code === 'unrecognized_keys') {
    return invalidOption(issue.keys[0] ?? '', `is not a known option (known: ${Object.keys(RULES).join(', ')})`);
  }
  const field = issue.path[0];
  if (typeof field !== 'string' || !(field in RULES)) {
    return invalidOption('', `must be an object (got ${describeValue(options)})`);
  }
  const value = (options as Record<string, unknown>)[field];
  return invalidOption(field, `${RULES[field as keyof GenerateShopDatasetOptions]} (got ${describeValue(value)})`);
}

// ───────────────────────────── seeded randomness ─────────────────────────────

/** cyrb128: spreads any text over 128 bits of state, so nearby seeds give unrelated streams. */
function hash128(text: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** sfc32: small, fast, and passes PractRand; plenty for synthetic data. */
class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seedText: string) {
    [this.a, this.b, this.c, this.d] = hash128(seedText);
    for (let i = 0; i < 15; i++) this.uint32();
  }

  uint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.uint32() / 4294967296;
  }

  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** 32 lowercase hex characters, like Olist's ids. */
  hexId(): string {
    let id = '';
    for (let i = 0; i < 4; i++) {
      const x = this.uint32();
      id += HEX[x >>> 24]! + HEX[(x >>> 16) & 255]! + HEX[(x >>> 8) & 255]! + HEX[x & 255]!;
    }
    return id;
  }
}

/** Weighted choice by binary search over cumulative weights. */
class WeightedTable {
  private readonly cumulative: Float64Array;
  private readonly total: number;

  constructor(weights: readonly number[]) {
    this.cumulative = new Float64Array(weights.length);
    let sum = 0;
    weights.forEach((weight, i) => {
      sum += weight;
      this.cumulative[i] = sum;
    });
    this.total = sum;
  }

  sample(rng: Rng): number {
    const target = rng.next() * this.total;
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cumulative[mid]! > target) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

// ───────────────────────────── calendar (São Paulo wall clock) ─────────────────────────────
// Times are seconds of São Paulo wall-clock time counted from 1970-01-01 00:00, computed
// with plain integer arithmetic: no Date, no host time zone. Brazil dropped daylight saving
// in 2019, so wall-clock time is also a fixed UTC−3; spans before 2019 ignore the old DST.

const DAY = 86_400;
const HOUR = 3_600;

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function civilFromDays(days: number): [number, number, number] {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return [month <= 2 ? yoe + era * 400 + 1 : yoe + era * 400, month, day];
}

/** 0 = Sunday … 6 = Saturday (1970-01-01 was a Thursday). */
function weekday(days: number): number {
  return (((days + 4) % 7) + 7) % 7;
}

function parseCalendarDate(text: string): number | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (match === null) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (year < MIN_START_YEAR || year > MAX_START_YEAR || month < 1 || month > 12 || day < 1) return undefined;
  const days = daysFromCivil(year, month, day);
  const [, roundMonth] = civilFromDays(days);
  return roundMonth === month ? days : undefined;
}

const TWO_DIGITS = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));

function pad2(n: number): string {
  return TWO_DIGITS[n]!;
}

// Formatting timestamps is the hot path (several per order): the date part is cached per day.
const dateTexts = new Map<number, string>();

function formatDay(days: number): string {
  let text = dateTexts.get(days);
  if (text === undefined) {
    const [year, month, day] = civilFromDays(days);
    text = `${year}-${pad2(month)}-${pad2(day)}`;
    if (dateTexts.size > 50_000) dateTexts.clear(); // bounded across many calls
    dateTexts.set(days, text);
  }
  return text;
}

/** `YYYY-MM-DD HH:MM:SS`, as Olist writes its timestamps. */
function formatTimestamp(seconds: number): string {
  const days = Math.floor(seconds / DAY);
  const rest = seconds - days * DAY;
  const hh = Math.floor(rest / HOUR);
  const mm = Math.floor((rest - hh * HOUR) / 60);
  return `${formatDay(days)} ${pad2(hh)}:${pad2(mm)}:${pad2(rest % 60)}`;
}

/** Black Friday: the last Friday of November. */
function blackFriday(year: number): number {
  const nov30 = daysFromCivil(year, 11, 30);
  return nov30 - ((weekday(nov30) - 5 + 7) % 7);
}

/** Brazilian Mother's Day: the second Sunday of May. */
function mothersDay(year: number): number {
  const may1 = daysFromCivil(year, 5, 1);
  return may1 + ((7 - weekday(may1)) % 7) + 7;
}

// Olist buys most on Mondays and Tuesdays and least on Saturdays.
const WEEKDAY_WEIGHTS = [0.85, 1.12, 1.1, 1.05, 1.0, 0.93, 0.72]; // Sun … Sat
// Orders by hour of day: quiet from 1 to 6, busy through office hours, peaking in the evening.
const HOUR_WEIGHTS = [
  1.6, 0.8, 0.35, 0.2, 0.18, 0.3, 0.8, 1.6, 3.1, 4.6, 5.6, 5.9, 5.6, 5.9, 6.1, 5.9, 5.9, 5.6, 5.3, 5.7, 6.3,
  6.5, 5.9, 3.9,
];
// People shop from home on weekday evenings, after work.
const WEEKDAY_EVENING_BOOST = 1.25;

/** How many orders a day gets relative to an ordinary Thursday: holidays, weekday, growth. */
function dayWeight(days: number, progress: number): number {
  const [year, month, day] = civilFromDays(days);
  let weight = WEEKDAY_WEIGHTS[weekday(days)]! * (1 + 0.3 * progress); // the shop grows over the span
  if (month === 11 || month === 12) {
    const bf = blackFriday(year);
    if (days === bf) weight *= 5;
    else if (days === bf - 1 || days === bf + 1 || days === bf + 2) weight *= 2;
    else if (days === bf + 3) weight *= 2.5; // Cyber Monday
  }
  if (month === 12) {
    if (day >= 18 && day <= 24) weight *= 1.7; // Christmas shopping week
    else if (day === 25) weight *= 0.5;
  }
  if (month === 5) {
    const md = mothersDay(year);
    // Gifts are bought in the week before Mother's Day, not on the day itself.
    if (days >= md - 7 && days < md) weight *= 1.6;
  }
  return weight;
}

// ───────────────────────────── Brazil: states, cities, CEP prefixes ─────────────────────────────

type Region = 'N' | 'NE' | 'CO' | 'SE' | 'S';

interface City {
  name: string;
  /** Inclusive range of 5-digit CEP prefixes inside the state's range. */
  from: number;
  to: number;
  lat: number;
  lng: number;
  /** Relative share within its state. */
  weight: number;
}

interface State {
  uf: string;
  region: Region;
  /** Shares of customers and sellers, close to Olist's (SP dominates both). */
  customerWeight: number;
  sellerWeight: number;
  cities: City[];
}

function city(name: string, from: number, to: number, lat: number, lng: number, weight: number): City {
  return { name, from, to, lat, lng, weight };
}

const STATES: readonly State[] = [
  { uf: 'SP', region: 'SE', customerWeight: 42, sellerWeight: 60, cities: [
    city('sao paulo', 1000, 5999, -23.55, -46.63, 40), city('guarulhos', 7000, 7399, -23.46, -46.53, 5),
    city('campinas', 13000, 13139, -22.91, -47.06, 6), city('santos', 11000, 11099, -23.96, -46.33, 3),
    city('osasco', 6000, 6299, -23.53, -46.79, 3), city('santo andre', 9000, 9299, -23.66, -46.53, 3),
    city('sao bernardo do campo', 9600, 9899, -23.69, -46.56, 3), city('sorocaba', 18000, 18109, -23.5, -47.46, 3),
    city('ribeirao preto', 14000, 14114, -21.18, -47.81, 3), city('sao jose dos campos', 12200, 12248, -23.18, -45.89, 3),
    city('franca', 14400, 14414, -20.54, -47.4, 1), city('jundiai', 13200, 13219, -23.19, -46.88, 2),
    city('piracicaba', 13400, 13432, -22.73, -47.65, 2), city('bauru', 17000, 17120, -22.31, -49.06, 2),
    city('mogi das cruzes', 8700, 8899, -23.52, -46.19, 2),
  ] },
  { uf: 'RJ', region: 'SE', customerWeight: 13, sellerWeight: 5, cities: [
    city('rio de janeiro', 20000, 23799, -22.91, -43.17, 60), city('niteroi', 24000, 24399, -22.88, -43.1, 10),
    city('sao goncalo', 24400, 24799, -22.83, -43.05, 8), city('duque de caxias', 25000, 25499, -22.79, -43.31, 8),
    city('nova iguacu', 26000, 26099, -22.76, -43.45, 8), city('petropolis', 25600, 25779, -22.51, -43.18, 4),
  ] },
  { uf: 'MG', region: 'SE', customerWeight: 11.7, sellerWeight: 8, cities: [
    city('belo horizonte', 30000, 31999, -19.92, -43.94, 45), city('contagem', 32000, 32399, -19.93, -44.05, 10),
    city('uberlandia', 38400, 38415, -18.92, -48.28, 12), city('juiz de fora', 36000, 36099, -21.76, -43.35, 10),
    city('betim', 32500, 32699, -19.97, -44.2, 8), city('montes claros', 39400, 39409, -16.73, -43.86, 6),
  ] },
  { uf: 'ES', region: 'SE', customerWeight: 2, sellerWeight: 0.8, cities: [
    city('vitoria', 29000, 29099, -20.32, -40.34, 4), city('vila velha', 29100, 29129, -20.33, -40.29, 4),
    city('serra', 29160, 29184, -20.13, -40.31, 3),
  ] },
  { uf: 'RS', region: 'S', customerWeight: 5.5, sellerWeight: 4, cities: [
    city('porto alegre', 90000, 91999, -30.03, -51.23, 45), city('caxias do sul', 95000, 95124, -29.17, -51.18, 15),
    city('canoas', 92000, 92499, -29.92, -51.18, 10), city('pelotas', 96000, 96099, -31.77, -52.34, 10),
    city('santa maria', 97000, 97119, -29.69, -53.81, 9), city('novo hamburgo', 93300, 93599, -29.68, -51.13, 8),
  ] },
  { uf: 'PR', region: 'S', customerWeight: 5, sellerWeight: 11, cities: [
    city('curitiba', 80000, 82999, -25.43, -49.27, 45), city('londrina', 86000, 86099, -23.31, -51.16, 14),
    city('maringa', 87000, 87099, -23.42, -51.94, 12), city('ponta grossa', 84000, 84099, -25.09, -50.16, 9),
    city('cascavel', 85800, 85823, -24.96, -53.46, 8), city('sao jose dos pinhais', 83000, 83099, -25.53, -49.21, 8),
  ] },
  { uf: 'SC', region: 'S', customerWeight: 3.7, sellerWeight: 6, cities: [
    city('florianopolis', 88000, 88099, -27.6, -48.55, 25), city('joinville', 89200, 89239, -26.3, -48.85, 25),
    city('blumenau', 89000, 89099, -26.92, -49.07, 18), city('itajai', 88300, 88319, -26.91, -48.66, 10),
    city('chapeco', 89800, 89816, -27.1, -52.62, 10), city('sao jose', 88100, 88123, -27.61, -48.63, 12),
  ] },
  { uf: 'BA', region: 'NE', customerWeight: 3.4, sellerWeight: 0.8, cities: [
    city('salvador', 40000, 42599, -12.97, -38.5, 60), city('feira de santana', 44000, 44109, -12.27, -38.97, 20),
    city('vitoria da conquista', 45000, 45099, -14.86, -40.84, 12),
  ] },
  { uf: 'SE', region: 'NE', customerWeight: 0.35, sellerWeight: 0.1, cities: [city('aracaju', 49000, 49099, -10.91, -37.07, 1)] },
  { uf: 'PE', region: 'NE', customerWeight: 1.7, sellerWeight: 0.4, cities: [
    city('recife', 50000, 52999, -8.05, -34.88, 50), city('jaboatao dos guararapes', 54000, 54499, -8.11, -35.01, 20),
    city('olinda', 53000, 53399, -8.01, -34.86, 12), city('petrolina', 56300, 56339, -9.39, -40.5, 10),
  ] },
  { uf: 'AL', region: 'NE', customerWeight: 0.4, sellerWeight: 0.1, cities: [city('maceio', 57000, 57099, -9.67, -35.74, 1)] },
  { uf: 'PB', region: 'NE', customerWeight: 0.55, sellerWeight: 0.2, cities: [
    city('joao pessoa', 58000, 58099, -7.12, -34.86, 2), city('campina grande', 58400, 58439, -7.23, -35.88, 1),
  ] },
  { uf: 'RN', region: 'NE', customerWeight: 0.5, sellerWeight: 0.2, cities: [
    city('natal', 59000, 59161, -5.79, -35.21, 3), city('mossoro', 59600, 59649, -5.19, -37.34, 1),
  ] },
  { uf: 'CE', region: 'NE', customerWeight: 1.3, sellerWeight: 0.4, cities: [
    city('fortaleza', 60000, 61599, -3.73, -38.53, 5), city('juazeiro do norte', 63000, 63059, -7.21, -39.32, 1),
  ] },
  { uf: 'PI', region: 'NE', customerWeight: 0.5, sellerWeight: 0.1, cities: [city('teresina', 64000, 64099, -5.09, -42.8, 1)] },
  { uf: 'MA', region: 'NE', customerWeight: 0.75, sellerWeight: 0.1, cities: [
    city('sao luis', 65000, 65099, -2.53, -44.3, 3), city('imperatriz', 65900, 65919, -5.53, -47.49, 1),
  ] },
  { uf: 'PA', region: 'N', customerWeight: 1, sellerWeight: 0.1, cities: [
    city('belem', 66000, 66999, -1.46, -48.49, 5), city('ananindeua', 67000, 67199, -1.37, -48.37, 2),
    city('santarem', 68000, 68109, -2.44, -54.71, 1),
  ] },
  { uf: 'AP', region: 'N', customerWeight: 0.07, sellerWeight: 0.02, cities: [city('macapa', 68900, 68914, 0.03, -51.07, 1)] },
  { uf: 'AM', region: 'N', customerWeight: 0.15, sellerWeight: 0.05, cities: [city('manaus', 69000, 69099, -3.12, -60.02, 1)] },
  { uf: 'RR', region: 'N', customerWeight: 0.05, sellerWeight: 0.02, cities: [city('boa vista', 69300, 69339, 2.82, -60.67, 1)] },
  { uf: 'AC', region: 'N', customerWeight: 0.08, sellerWeight: 0.02, cities: [city('rio branco', 69900, 69923, -9.97, -67.81, 1)] },
  { uf: 'TO', region: 'N', customerWeight: 0.3, sellerWeight: 0.05, cities: [city('palmas', 77000, 77270, -10.18, -48.33, 1)] },
  { uf: 'RO', region: 'N', customerWeight: 0.25, sellerWeight: 0.1, cities: [city('porto velho', 76800, 76834, -8.76, -63.9, 1)] },
  { uf: 'DF', region: 'CO', customerWeight: 2.2, sellerWeight: 0.9, cities: [city('brasilia', 70000, 72799, -15.79, -47.88, 1)] },
  { uf: 'GO', region: 'CO', customerWeight: 2, sellerWeight: 1.3, cities: [
    city('goiania', 74000, 74899, -16.69, -49.26, 6), city('aparecida de goiania', 74900, 74999, -16.82, -49.24, 2),
    city('anapolis', 75000, 75159, -16.33, -48.95, 2),
  ] },
  { uf: 'MT', region: 'CO', customerWeight: 0.9, sellerWeight: 0.4, cities: [
    city('cuiaba', 78000, 78109, -15.6, -56.1, 5), city('varzea grande', 78110, 78159, -15.65, -56.13, 2),
    city('rondonopolis', 78700, 78749, -16.47, -54.64, 2),
  ] },
  { uf: 'MS', region: 'CO', customerWeight: 0.7, sellerWeight: 0.3, cities: [
    city('campo grande', 79000, 79124, -20.47, -54.62, 4), city('dourados', 79800, 79849, -22.22, -54.81, 1),
  ] },
];

interface CityRef {
  state: State;
  city: City;
}

const CITIES: readonly CityRef[] = STATES.flatMap((state) => state.cities.map((c) => ({ state, city: c })));

function cityShare(ref: CityRef, stateWeight: number): number {
  const stateTotal = ref.state.cities.reduce((sum, c) => sum + c.weight, 0);
  return (stateWeight * ref.city.weight) / stateTotal;
}

// ───────────────────────────── catalog ─────────────────────────────

interface Category {
  name: string;
  share: number;
  /** Price range in reais (log-uniform) and weight range in grams. */
  minPrice: number;
  maxPrice: number;
  minGrams: number;
  maxGrams: number;
}

function category(name: string, share: number, minPrice: number, maxPrice: number, minGrams: number, maxGrams: number): Category {
  return { name, share, minPrice, maxPrice, minGrams, maxGrams };
}

// Olist's top categories with roughly its shares of items.
const CATEGORIES: readonly Category[] = [
  category('cama_mesa_banho', 11, 20, 300, 300, 3000),
  category('beleza_saude', 9, 10, 400, 100, 2000),
  category('esporte_lazer', 8, 15, 500, 200, 5000),
  category('moveis_decoracao', 7.5, 20, 600, 500, 15000),
  category('informatica_acessorios', 7, 15, 1500, 100, 3000),
  category('utilidades_domesticas', 6.5, 10, 300, 200, 4000),
  category('relogios_presentes', 5.5, 40, 1200, 100, 800),
  category('telefonia', 4, 10, 1500, 50, 600),
  category('ferramentas_jardim', 4, 15, 400, 300, 8000),
  category('automotivo', 4, 15, 600, 200, 6000),
  category('brinquedos', 4, 10, 350, 100, 4000),
  category('cool_stuff', 3.5, 20, 500, 200, 5000),
  category('perfumaria', 3, 15, 450, 100, 800),
  category('bebes', 3, 15, 500, 200, 6000),
  category('eletronicos', 2.5, 10, 800, 50, 2000),
  category('papelaria', 2.2, 5, 200, 50, 2000),
  category('fashion_bolsas_e_acessorios', 1.8, 15, 300, 100, 1000),
  category('pet_shop', 1.7, 10, 300, 200, 10000),
  category('moveis_escritorio', 1.5, 80, 900, 5000, 25000),
  category('consoles_games', 1, 20, 2500, 100, 3000),
  category('malas_acessorios', 1, 40, 600, 1000, 6000),
  category('eletrodomesticos', 0.7, 30, 2000, 1000, 20000),
  category('instrumentos_musicais', 0.6, 30, 1500, 300, 8000),
  category('eletroportateis', 0.6, 30, 1200, 800, 8000),
  category('livros_interesse_geral', 0.5, 10, 150, 200, 1500),
  category('alimentos', 0.4, 8, 150, 200, 3000),
  category('bebidas', 0.3, 8, 200, 500, 6000),
  category('audio', 0.3, 20, 800, 100, 2000),
  category('climatizacao', 0.25, 60, 1500, 2000, 20000),
  category('fashion_calcados', 0.2, 30, 400, 400, 1500),
];

type PaymentType = 'credit_card' | 'boleto' | 'voucher' | 'debit_card';
const PAYMENT_TYPES: readonly PaymentType[] = ['credit_card', 'boleto', 'voucher', 'debit_card'];
const PAYMENT_TABLE = new WeightedTable([75, 20, 3.5, 1.5]);
// Installments chosen by card buyers in Olist: mostly 1, with bumps at 2–4, 8 and 10.
const INSTALLMENT_TABLE = new WeightedTable([50, 12, 10, 7, 5, 4, 2, 5, 1, 4]);
const REVIEW_SCORE_TABLE = new WeightedTable([11.5, 3.2, 8.2, 19.3, 57.8]); // scores 1…5

const REVIEW_TITLES: Record<'good' | 'neutral' | 'bad', readonly string[]> = {
  good: ['Recomendo', 'Ótimo produto', 'Muito bom', 'Super recomendo', 'Excelente', 'Chegou antes do prazo'],
  neutral: ['Razoável', 'Bom, mas...', 'Produto ok', 'Esperava mais'],
  bad: ['Não recebi', 'Produto com defeito', 'Péssimo', 'Não recomendo', 'Veio errado'],
};
// Real reviews carry commas, quotes and line breaks: they keep the CSV quoting honest.
const REVIEW_MESSAGES: Record<'good' | 'neutral' | 'bad', readonly string[]> = {
  good: [
    'Produto de ótima qualidade, chegou antes do prazo.',
    'Chegou bem antes do prazo previsto.',
    'Tudo certo, recomendo a loja!',
    'Gostei muito.\nComprarei novamente.',
    'Chegou "voando", bem embalado e conforme o anúncio.',
    'Parabéns à loja, comprar pela internet assim dá gosto: rápido e seguro.',
  ],
  neutral: [
    'O produto é bom, mas a embalagem veio amassada.',
    'Demorou um pouco, mas chegou.',
    'Cor diferente da foto, de resto ok.',
  ],
  bad: [
    'Até agora não recebi o produto.',
    'Veio com defeito, quero trocar.\nAguardo retorno.',
    'Comprei 2 unidades e só veio 1, "brincadeira".',
    'Péssimo atendimento, não recomendo.',
  ],
};

// ───────────────────────────── CSV files, written in chunks, published by rename ─────────────────────────────

const COLUMNS: Record<ShopTable, readonly string[]> = {
  customers: ['customer_id', 'customer_unique_id', 'customer_zip_code_prefix', 'customer_city', 'customer_state'],
  orders: [
    'order_id', 'customer_id', 'order_status', 'order_purchase_timestamp', 'order_approved_at',
    'order_delivered_carrier_date', 'order_delivered_customer_date', 'order_estimated_delivery_date',
  ],
  order_items: ['order_id', 'order_item_id', 'product_id', 'seller_id', 'shipping_limit_date', 'price', 'freight_value'],
  order_payments: ['order_id', 'payment_sequential', 'payment_type', 'payment_installments', 'payment_value'],
  order_reviews: [
    'review_id', 'order_id', 'review_score', 'review_comment_title', 'review_comment_message',
    'review_creation_date', 'review_answer_timestamp',
  ],
  products: [
    'product_id', 'product_category_name', 'product_name_lenght', 'product_description_lenght', 'product_photos_qty',
    'product_weight_g', 'product_length_cm', 'product_height_cm', 'product_width_cm',
  ],
  sellers: ['seller_id', 'seller_zip_code_prefix', 'seller_city', 'seller_state'],
  geolocation: [
    'geolocation_zip_code_prefix', 'geolocation_lat', 'geolocation_lng', 'geolocation_city', 'geolocation_state',
  ],
};

const TABLES = Object.keys(COLUMNS) as ShopTable[];

// Columns holding names or free text. The others hold only what this file formats itself (hex
// ids, numbers, timestamps, status words), which never needs quotes, so they skip the check.
const TEXT_COLUMNS = new Set([
  'customer_city', 'review_comment_title', 'review_comment_message', 'product_category_name', 'seller_city',
  'geolocation_city',
]);

/** A field; `null` is written as an empty field, which CSV readers load as NULL. */
type Field = string | number | null;

const NEEDS_QUOTES = /[",\r\n]/;

/** RFC 4180: quote a field holding a comma, quote or line break, doubling inner quotes. */
function csvField(value: string | number): string {
  if (typeof value === 'number') return String(value);
  return NEEDS_QUOTES.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

// Big enough to keep syscalls rare, small enough that 100k orders never sit in one string.
const FLUSH_CHARS = 256 * 1024;

class CsvFile {
  rows = 0;
  private chunks: string[] = [];
  private size = 0;
  private closed = false;

  private readonly isText: readonly boolean[];

  private constructor(
    readonly table: ShopTable,
    readonly finalPath: string,
    readonly tmpPath: string,
    private readonly handle: FileHandle,
  ) {
    this.isText = COLUMNS[table].map((column) => TEXT_COLUMNS.has(column));
  }

  static async create(dir: string, table: ShopTable): Promise<CsvFile> {
    const finalPath = path.join(dir, `${table}.csv`);
    // Unique per process and call (writeFileAtomic's temp name): a shared name let two generators
    // into one folder write each other's temp file, and one published the other's data under its own counts.
    const tmpPath = atomicTmpName(dir);
    const file = new CsvFile(table, finalPath, tmpPath, await open(tmpPath, 'w'));
    file.push(`${COLUMNS[table].join(',')}\n`);
    return file;
  }

  add(fields: readonly Field[]): void {
    const texts: string[] = new Array(fields.length);
    for (let i = 0; i < fields.length; i++) {
      const value = fields[i] ?? null;
      texts[i] = value === null ? '' : this.isText[i] ? csvField(value) : String(value);
    }
    // join() yields one flat string; a chain of += would keep a tree of pieces alive until the flush.
    this.push(texts.join(',') + '\n');
    this.rows++;
  }

  get full(): boolean {
    return this.size >= FLUSH_CHARS;
  }

  async flush(): Promise<void> {
    if (this.chunks.length === 0) return;
    const bytes = Buffer.from(this.chunks.join(''), 'utf8');
    this.chunks = [];
    this.size = 0;
    // A write may be partial; loop until the whole chunk is on disk.
    let offset = 0;
    while (offset < bytes.length) {
      const { bytesWritten } = await this.handle.write(bytes, offset, bytes.length - offset);
      offset += bytesWritten;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
  }

  private push(text: string): void {
    this.chunks.push(text);
    this.size += text.length;
  }
}

// ───────────────────────────── the world: places, sellers, products, people ─────────────────────────────

interface Place {
  zip: number;
  ref: CityRef;
}

interface Seller {
  id: string;
  place: Place;
}

interface Product {
  id: string;
  seller: Seller;
  priceCents: number;
  grams: number;
}

interface World {
  sellers: Seller[];
  products: Product[];
  personIds: string[];
  personPlaces: Place[];
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

function zipText(zip: number): string {
  // Five digits with the leading zero, so São Paulo's 01xxx prefixes stay valid CEP prefixes.
  return String(zip).padStart(5, '0');
}

/** CEP prefixes per city (every city gets at least one); writes geolocation.csv on the way. */
async function buildPlaces(rng: Rng, customers: number, file: CsvFile): Promise<Place[][]> {
  const target = clamp(Math.round(customers / 3), 200, 6000);
  const weights = new WeightedTable(CITIES.map((ref) => cityShare(ref, ref.state.customerWeight)));
  const taken = new Set<number>();
  const places: Place[] = [];
  const add = (ref: CityRef): void => {
    const zip = rng.int(ref.city.from, ref.city.to);
    if (taken.has(zip)) return;
    taken.add(zip);
    places.push({ zip, ref });
  };
  for (const ref of CITIES) add(ref);
  // Small cities run out of prefixes; the attempt cap keeps the loop finite.
  for (let attempt = 0; places.length < target && attempt < target * 4; attempt++) add(CITIES[weights.sample(rng)]!);
  places.sort((a, b) => a.zip - b.zip);

  const byCity = CITIES.map(() => [] as Place[]);
  for (const place of places) {
    byCity[CITIES.indexOf(place.ref)]!.push(place);
    // Olist lists several coordinates per prefix; 1–3 points around the city centre.
    const points = rng.int(1, 3);
    for (let i = 0; i < points; i++) {
      const lat = place.ref.city.lat + (rng.next() - 0.5) * 0.12;
      const lng = place.ref.city.lng + (rng.next() - 0.5) * 0.12;
      file.add([zipText(place.zip), lat.toFixed(8), lng.toFixed(8), place.ref.city.name, place.ref.state.uf]);
    }
    if (file.full) await file.flush();
  }
  return byCity;
}

function pickPlace(rng: Rng, table: WeightedTable, byCity: Place[][]): Place {
  return rng.pick(byCity[table.sample(rng)]!);
}

async function buildWorld(
  opts: ParsedOptions,
  stream: (name: string) => Rng,
  ids: Rng,
  files: Record<ShopTable, CsvFile>,
): Promise<World> {
  const byCity = await buildPlaces(stream('places'), opts.customers, files.geolocation);

  const sellerRng = stream('sellers');
  const sellerCities = new WeightedTable(CITIES.map((ref) => cityShare(ref, ref.state.sellerWeight)));
  const sellers: Seller[] = [];
  const sellerCount = clamp(Math.round(opts.customers / 30), 5, 3500);
  for (let i = 0; i < sellerCount; i++) {
    const seller = { id: ids.hexId(), place: pickPlace(sellerRng, sellerCities, byCity) };
    sellers.push(seller);
    files.sellers.add([seller.id, zipText(seller.place.zip), seller.place.ref.city.name, seller.place.ref.state.uf]);
    if (files.sellers.full) await files.sellers.flush();
  }

  const productRng = stream('products');
  const categories = new WeightedTable(CATEGORIES.map((c) => c.share));
  const products: Product[] = [];
  const productCount = clamp(Math.round(opts.customers / 3), 30, 35_000);
  for (let i = 0; i < productCount; i++) {
    const cat = CATEGORIES[categories.sample(productRng)]!;
    // A few big sellers hold most of the catalogue, as on any marketplace.
    const seller = sellers[Math.floor(sellerCount * productRng.next() ** 2)]!;
    const reais = cat.minPrice * (cat.maxPrice / cat.minPrice) ** productRng.next();
    const grams = Math.round(cat.minGrams * (cat.maxGrams / cat.minGrams) ** productRng.next());
    // Box sides follow the weight; Correios' minimum box is 16 × 2 × 11 cm.
    const side = Math.cbrt(grams * 4);
    // Shelf prices end in ,90 (R$ 74,90), as Brazilian shops write them.
    const product: Product = { id: ids.hexId(), seller, priceCents: Math.max(190, Math.round(reais) * 100 - 10), grams };
    products.push(product);
    files.products.add([
      product.id,
      cat.name,
      productRng.int(20, 76),
      productRng.int(40, 3000),
      productRng.chance(0.5) ? 1 : productRng.int(2, 8),
      grams,
      clamp(Math.round(side * (0.8 + productRng.next() * 0.8)), 16, 105),
      clamp(Math.round(side * (0.3 + productRng.next() * 0.6)), 2, 105),
      clamp(Math.round(side * (0.6 + productRng.next() * 0.6)), 11, 118),
    ]);
    if (files.products.full) await files.products.flush();
  }

  const personRng = stream('people');
  const customerCities = new WeightedTable(CITIES.map((ref) => cityShare(ref, ref.state.customerWeight)));
  const personIds: string[] = [];
  const personPlaces: Place[] = [];
  for (let i = 0; i < opts.customers; i++) {
    personIds.push(ids.hexId());
    personPlaces.push(pickPlace(personRng, customerCities, byCity));
  }
  return { sellers, products, personIds, personPlaces };
}

// ───────────────────────────── order schedule ─────────────────────────────

interface Schedule {
  /** Purchase time and person of each order, sorted by purchase time. */
  purchase: Float64Array;
  person: Uint32Array;
}

function scheduleOrders(opts: ParsedOptions, rng: Rng, startDay: number): Schedule {
  const dayTable = new WeightedTable(
    Array.from({ length: opts.days }, (_, i) => dayWeight(startDay + i, opts.days > 1 ? i / (opts.days - 1) : 0)),
  );
  const weekdayHours = new WeightedTable(HOUR_WEIGHTS.map((w, h) => (h >= 19 && h <= 22 ? w * WEEKDAY_EVENING_BOOST : w)));
  const weekendHours = new WeightedTable(HOUR_WEIGHTS);
  // Repeat buyers: 30% of people come back; short spans leave room for fewer returns.
  const maxExtra = clamp(Math.floor(opts.days / 14), 1, 14);
  const counts = new Uint32Array(opts.customers);
  let total = 0;
  for (let p = 0; p < opts.customers; p++) {
    let n = 1;
    if (rng.chance(0.3)) {
      n++;
      while (n - 1 < maxExtra && rng.chance(0.55)) n++;
    }
    counts[p] = n;
    total += n;
  }

  const times = new Float64Array(total);
  const owners = new Uint32Array(total);
  let k = 0;
  for (let p = 0; p < opts.customers; p++) {
    for (let j = 0; j < counts[p]!; j++) {
      const day = startDay + dayTable.sample(rng);
      const workday = weekday(day) >= 1 && weekday(day) <= 5;
      const hour = (workday ? weekdayHours : weekendHours).sample(rng);
      times[k] = day * DAY + hour * HOUR + Math.floor(rng.next() * HOUR);
      owners[k] = p;
      k++;
    }
  }
  // Stable tie-break on the generation index keeps the order of equal timestamps deterministic.
  const order = new Uint32Array(total).map((_, i) => i).sort((a, b) => times[a]! - times[b]! || a - b);
  return { purchase: Float64Array.from(order, (i) => times[i]!), person: Uint32Array.from(order, (i) => owners[i]!) };
}

// ───────────────────────────── dirt ─────────────────────────────

/**
 * Picks `round(orders × dirtyShare)` distinct orders and gives each one dirt kind, cycling
 * through the kinds so the counts are exact. It draws from its own stream, so the clean data
 * is the same whatever the share.
 */
function planDirt(orders: number, share: number, rng: Rng): Uint8Array {
  const plan = new Uint8Array(orders); // 0 = clean, else 1 + index into SHOP_DIRT_KINDS
  const count = Math.round(orders * share);
  const pool = new Uint32Array(orders).map((_, i) => i);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(rng.next() * (orders - i));
    const chosen = pool[j]!;
    pool[j] = pool[i]!;
    pool[i] = chosen;
    plan[chosen] = 1 + (i % SHOP_DIRT_KINDS.length);
  }
  return plan;
}

/**
 * Whole days that move a purchase day to the same month and day of `year` (29 February falls
 * back to the 28th). The whole order row moves by it, so its dates stay in order and the row
 * breaks the date-range rule only, not delivered-before-purchase as well.
 */
function daysToYear(purchaseDay: number, year: number): number {
  const [, month, day] = civilFromDays(purchaseDay);
  return daysFromCivil(year, month, month === 2 && day === 29 ? 28 : day) - purchaseDay;
}

function money(cents: number): string {
  const abs = Math.abs(cents);
  return `${cents < 0 ? '-' : ''}${Math.floor(abs / 100)}.${pad2(abs % 100)}`;
}

// ───────────────────────────── orders and everything hanging off them ─────────────────────────────

type OrderStatus = 'delivered' | 'shipped' | 'canceled' | 'invoiced' | 'processing' | 'unavailable' | 'approved' | 'created';

/** 0 same state, 1 same region, 2 across regions: drives freight and transit time. */
function distanceClass(a: State, b: State): 0 | 1 | 2 {
  if (a === b) return 0;
  return a.region === b.region ? 1 : 2;
}

const FREIGHT_BASE_CENTS = [800, 1300, 2000];
const FREIGHT_PER_KG_CENTS = [90, 160, 260];
const TRANSIT_DAYS: readonly (readonly [number, number])[] = [[1, 7], [3, 12], [6, 25]];

interface Line {
  product: Product;
  quantity: number;
  freightCents: number;
}

interface Payment {
  type: PaymentType;
  installments: number;
  cents: number;
}

/** Splits the total over the payments: vouchers first, the main method pays the rest. */
function planPayments(rng: Rng, total: number, main: PaymentType): Payment[] {
  const payments: Payment[] = [];
  const vouchers = main === 'voucher' ? (rng.chance(0.7) ? 1 : rng.int(2, 3)) : rng.chance(0.02) ? 1 : 0;
  let left = total;
  for (let i = 0; i < vouchers; i++) {
    const last = main === 'voucher' && i === vouchers - 1;
    // Integer cents and at least one cent per payment: no zero payment, and the sum is exact.
    const cents = last ? left : clamp(Math.round(left * (0.1 + rng.next() * 0.4)), 1, left - 1);
    if (cents <= 0) break;
    payments.push({ type: 'voucher', installments: 1, cents });
    left -= cents;
  }
  if (left > 0) {
    let installments = 1;
    if (main === 'credit_card') {
      installments = 1 + INSTALLMENT_TABLE.sample(rng);
      if (total < 5000) installments = Math.min(installments, 3); // nobody splits a small basket in ten
    }
    payments.push({ type: main === 'voucher' ? 'credit_card' : main, installments, cents: left });
  }
  return payments;
}

interface OrderRun {
  world: World;
  schedule: Schedule;
  dirtPlan: Uint8Array;
  /** Draws for the clean data, for the dirt, and for ids. */
  rng: Rng;
  dirtRng: Rng;
  ids: Rng;
  files: Record<ShopTable, CsvFile>;
  /** End of the span: nothing happens after it. */
  snapshot: number;
  /** Dirty rows written, filled in as they are. */
  dirty: Record<ShopDirtKind, number>;
}

/** Writes orders, customers, items, payments and reviews, one order at a time, in purchase order. */
async function writeOrders(run: OrderRun): Promise<void> {
  const { world, schedule, dirtPlan, rng, dirtRng, ids, files, snapshot, dirty } = run;
  const { products } = world;
  const lineTable = new WeightedTable([90, 8, 1.5, 0.5]); // 1…4 distinct products
  const quantityTable = new WeightedTable([92, 6, 1, 0.5, 0.3, 0.2]); // 1…6 units
  const orderFiles = [files.orders, files.customers, files.order_items, files.order_payments, files.order_reviews];

  for (let pos = 0; pos < schedule.purchase.length; pos++) {
    const purchase = schedule.purchase[pos]!;
    const person = schedule.person[pos]!;
    const place = world.personPlaces[person]!;
    const orderId = ids.hexId();
    const customerId = ids.hexId(); // Olist mints a customer_id per order
    const dirt = dirtPlan[pos] === 0 ? undefined : SHOP_DIRT_KINDS[dirtPlan[pos]! - 1];

    // Basket: a few products, skewed towards the popular ones; a unit is one row in Olist.
    const lines: Line[] = [];
    const lineCount = 1 + lineTable.sample(rng);
    let farthest: 0 | 1 | 2 = 0;
    for (let i = 0; i < lineCount; i++) {
      const product = products[Math.floor(products.length * rng.next() ** 2.5)]!;
      const cls = distanceClass(product.seller.place.ref.state, place.ref.state);
      farthest = Math.max(farthest, cls) as 0 | 1 | 2;
      const freight = rng.chance(0.01)
        ? 0 // free-shipping promotions exist in Olist too
        : Math.round(FREIGHT_BASE_CENTS[cls]! + (FREIGHT_PER_KG_CENTS[cls]! * product.grams) / 1000 + rng.int(0, 400));
      lines.push({ product, quantity: 1 + quantityTable.sample(rng), freightCents: freight });
    }
    let totalCents = 0;
    for (const line of lines) totalCents += (line.product.priceCents + line.freightCents) * line.quantity;

    // Timeline: boleto waits for the bank slip to be paid; cards clear in minutes.
    const mainPayment = PAYMENT_TYPES[PAYMENT_TABLE.sample(rng)]!;
    const approved =
      purchase + (mainPayment === 'boleto' ? rng.int(20 * HOUR, 72 * HOUR) : rng.int(2 * 60, rng.chance(0.1) ? DAY : HOUR));
    const carrier = approved + rng.int(12 * HOUR, 5 * DAY);
    const [minTransit, maxTransit] = TRANSIT_DAYS[farthest]!;
    const delivered = carrier + rng.int(minTransit * DAY, maxTransit * DAY);
    const purchaseDay = Math.floor(purchase / DAY);
    // Generous like Olist's estimates, yet one delivery in ten or so still arrives late.
    const estimatedDay = purchaseDay + 2 + Math.round(maxTransit * 0.85) + rng.int(0, 7);

    // Status: how far the order got by the end of the span, unless fate stopped it earlier
    // (Olist's small shares of canceled, unavailable and stuck orders).
    let status: OrderStatus;
    if (approved > snapshot) status = 'created';
    else if (carrier > snapshot) status = rng.chance(0.5) ? 'approved' : 'invoiced';
    else if (delivered > snapshot) status = 'shipped';
    else status = 'delivered';
    const fate = rng.next();
    if (fate < 0.006) status = 'canceled';
    else if (fate < 0.012) status = 'unavailable';
    else if (status === 'shipped' || status === 'delivered') {
      if (fate < 0.015) status = 'processing';
      else if (fate < 0.018) status = 'invoiced';
      else if (fate < 0.028) status = 'shipped'; // lost in transit
    }
    const hasApproval = status !== 'created' && approved <= snapshot;
    const hasCarrier = (status === 'shipped' || status === 'delivered') && carrier <= snapshot;

    const shift = dirt === 'out_of_range_date' ? daysToYear(purchaseDay, dirtRng.chance(0.5) ? 1970 : 2099) * DAY : 0;
    let deliveredText = status === 'delivered' ? formatTimestamp(delivered + shift) : null;
    if (dirt === 'delivered_before_purchase') deliveredText = formatTimestamp(purchase - dirtRng.int(DAY, 30 * DAY));

    const orderRow: Field[] = [
      orderId,
      dirt === 'null_customer_id' ? null : customerId,
      status,
      formatTimestamp(purchase + shift),
      hasApproval ? formatTimestamp(approved + shift) : null,
      hasCarrier ? formatTimestamp(carrier + shift) : null,
      deliveredText,
      formatTimestamp(estimatedDay * DAY + shift),
    ];
    files.orders.add(orderRow);
    if (dirt === 'duplicate_order_row') files.orders.add(orderRow);
    if (dirt !== undefined) dirty[dirt]++;

    files.customers.add([customerId, world.personIds[person]!, zipText(place.zip), place.ref.city.name, place.ref.state.uf]);

    const shippingLimit = formatTimestamp((hasApproval ? approved : purchase) + 6 * DAY);
    let itemId = 0;
    for (const line of lines) {
      for (let unit = 0; unit < line.quantity; unit++) {
        itemId++;
        let price = money(line.product.priceCents);
        let productId: string | null = line.product.id;
        if (itemId === 1 && dirt === 'non_positive_price') {
          price = dirtRng.chance(0.5) ? '0.00' : money(-line.product.priceCents);
        }
        if (itemId === 1 && dirt === 'null_product_id') productId = null;
        files.order_items.add([orderId, itemId, productId, line.product.seller.id, shippingLimit, price, money(line.freightCents)]);
      }
    }

    const payments = planPayments(rng, totalCents, mainPayment);
    payments.forEach((payment, i) => {
      const cents = i === 0 && dirt === 'negative_payment' ? -payment.cents : payment.cents;
      files.order_payments.add([orderId, i + 1, payment.type, payment.installments, money(cents)]);
    });

    // Olist sends the survey the day after delivery, or after the estimate for orders that
    // never arrive; reviews not answered by the end of the span do not exist yet.
    if (rng.chance(0.99)) {
      const late = status === 'delivered' && Math.floor(delivered / DAY) > estimatedDay;
      const failed = status !== 'delivered'; // reviewed after the estimate, never received
      const score = late || failed ? (rng.chance(0.7) ? rng.int(1, 2) : rng.int(3, 5)) : 1 + REVIEW_SCORE_TABLE.sample(rng);
      const creationDay = (status === 'delivered' ? Math.floor(delivered / DAY) : estimatedDay) + 1;
      const answer = creationDay * DAY + rng.int(2 * HOUR, 5 * DAY);
      const mood = score >= 4 ? 'good' : score === 3 ? 'neutral' : 'bad';
      const title = rng.chance(0.12) ? rng.pick(REVIEW_TITLES[mood]) : null;
      const message = rng.chance(0.41) ? rng.pick(REVIEW_MESSAGES[mood]) : null;
      if (answer <= snapshot) {
        files.order_reviews.add([
          ids.hexId(),
          orderId,
          score,
          title,
          message,
          formatTimestamp(creationDay * DAY),
          formatTimestamp(answer),
        ]);
      }
    }

    for (const file of orderFiles) if (file.full) await file.flush();
  }
}

// ───────────────────────────── entry point ─────────────────────────────

/**
 * Writes a deterministic Olist-shaped shop dataset (eight CSV files) into `outDir`, with
 * `dirtyShare` of the orders carrying one dirty row each, and returns what it wrote.
 *
 * @example
 * const shop = await generateShopDataset({ seed: 42, customers: 10_000, days: 365, outDir: 'data/shop' });
 * shop.files.orders.rows;            // orders + shop.dirty.duplicate_order_row
 * shop.dirty.non_positive_price;     // exact number of order_items rows with price <= 0
 */
export async function generateShopDataset(options: GenerateShopDatasetOptions): Promise<GenerateShopDatasetResult> {
  const opts = parseOptions(options);
  const outDir = path.resolve(opts.outDir);
  const startDay = parseCalendarDate(opts.startDate)!;
  const snapshot = (startDay + opts.days) * DAY; // the dataset is a picture taken at the end of the span
  // Independent streams per concern: the dirt plan, for one, never shifts the clean data.
  const stream = (name: string): Rng => new Rng(`duckhouse-shop/${String(opts.seed)}/${name}`);

  await mkdir(outDir, { recursive: true });
  const opened: CsvFile[] = [];
  let published = false;
  try {
    for (const table of TABLES) opened.push(await CsvFile.create(outDir, table));
    const files = Object.fromEntries(opened.map((file) => [file.table, file])) as Record<ShopTable, CsvFile>;
    const ids = stream('ids');
    const world = await buildWorld(opts, stream, ids, files);
    const schedule = scheduleOrders(opts, stream('schedule'), startDay);
    const dirtPlan = planDirt(schedule.purchase.length, opts.dirtyShare, stream('dirt-plan'));
    const dirty = Object.fromEntries(SHOP_DIRT_KINDS.map((kind) => [kind, 0])) as Record<ShopDirtKind, number>;
    await writeOrders({
      world, schedule, dirtPlan, rng: stream('orders'), dirtRng: stream('dirt'), ids, files, snapshot, dirty,
    });

    for (const file of opened) {
      await file.flush();
      await file.close();
    }
    // Rename only once all eight are complete: a failure before this point leaves any previous
    // dataset in outDir as it was, and the finally block removes the temp files.
    for (const file of opened) await rename(file.tmpPath, file.finalPath);
    published = true;

    return {
      outDir,
      files: Object.fromEntries(opened.map((f) => [f.table, { path: f.finalPath, rows: f.rows }])) as GenerateShopDatasetResult['files'],
      dirty,
      customers: opts.customers,
      orders: schedule.purchase.length,
    };
  } finally {
    if (!published) {
      for (const file of opened) {
        await file.close().catch(() => undefined);
        await unlink(file.tmpPath).catch(() => undefined);
      }
    }
  }
}
