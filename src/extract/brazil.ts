/**
 * Parsers for the Brazilian formats found on store pages: money (`R$ 1.234,56`), numbers with a
 * decimal comma, and pack sizes in product names (`12x395g`).
 *
 * `parsePackSize` is the TypeScript twin of the SQL macro `models/macros/pack_size.sql` (used by
 * `tru_product`): same patterns, same rules in the same order, same units and rounding, so a
 * pack size computed while scraping agrees with the one the models compute from the name. The
 * regular expressions are written for both engines: `[\t\n\f\r ]` instead of `\s` (RE2's `\s`
 * is ASCII only) and no Unicode classes. `tests/extract/brazil.test.ts` runs the same names
 * through both; change them together.
 */

/** Whitespace as it appears in scraped text, non-breaking and narrow spaces included. */
const ANY_SPACE = /[\s\u00a0\u2007\u202f]+/g;

/**
 * A number written the Brazilian way: `1.234,56` → 1234.56, `1,5` → 1.5, `1.234` → 1234
 * (a dot followed by groups of three digits is a thousands separator), `12` → 12, `-3,00` → -3.
 * A dot that is not a thousands separator is a decimal point (`1.5` → 1.5). Spaces anywhere
 * are ignored. Anything else (letters, `1,234.56`, empty) gives null.
 * @example parseBrNumber('1.234,5') // 1234.5
 */
export function parseBrNumber(text: unknown): number | null {
  if (typeof text === 'number') return Number.isFinite(text) ? text : null;
  if (typeof text !== 'string') return null;
  const s = text.replace(ANY_SPACE, '').replace(/^\u2212/, '-');
  const m = /^([+-]?)(.*)$/.exec(s)!;
  const sign = m[1] === '-' ? -1 : 1;
  const body = m[2]!;
  let plain: string;
  if (/^\d{1,3}(?:\.\d{3})+(?:,\d+)?$/.test(body)) plain = body.replace(/\./g, '').replace(',', '.');
  else if (/^\d+(?:,\d+)?$/.test(body)) plain = body.replace(',', '.');
  else if (/^\d+\.\d+$/.test(body)) plain = body;
  else return null;
  const value = sign * Number(plain);
  return Number.isFinite(value) ? value : null;
}

/**
 * A price in reais: `R$ 1.234,56` → 1234.56. Also `R$1.234`, `1.234,5`, `-R$ 3,00`, `R$ -3,00`,
 * non-breaking spaces (as `Intl.NumberFormat('pt-BR')` writes them). Null on anything else,
 * including text around the price (`por R$ 8,00`): pick the price's own element instead.
 * @example parseBrl('R$ 1.234,56') // 1234.56
 */
export function parseBrl(text: unknown): number | null {
  if (typeof text === 'number') return Number.isFinite(text) ? text : null;
  if (typeof text !== 'string') return null;
  const s = text.replace(ANY_SPACE, '').replace(/\u2212/g, '-');
  const m = /^([+-]?)(?:R\$)?([+-]?)(.+)$/i.exec(s);
  if (!m || (m[1] && m[2])) return null;
  const value = parseBrNumber(m[3]!);
  if (value === null || value < 0) return null; // a sign inside the number ("R$ --3") is garbage
  return (m[1] || m[2]) === '-' ? -value : value;
}

export interface PackSize {
  /** Items in the pack (1 when the name gives no multiplier). */
  packQty: number;
  /** `g`/`mg` are converted to `kg`, `ml`/`cl` to `l`; counts are `un`. */
  unit: 'kg' | 'l' | 'un';
  /** Total quantity of the pack in `unit`: `12x395g` → 4.74 (kg). Rounded to 9 decimals. */
  netAmount: number;
}

/** VTEX's per-SKU measure, used when the name has none (items sold by weight or volume). */
export interface PackSizeHints {
  measurementUnit?: string | null;
  unitMultiplier?: number | null;
}

// The patterns of models/macros/pack_size.sql, piece by piece.
const WORD = 'a-z0-9à-ÿ';
const BEFORE = `[^${WORD}./]`;
const AFTER = `(?:[^${WORD}]|$)`;
const SP = '[\\t\\n\\f\\r ]';
const NUMBER = '(\\d+(?:\\.\\d+)?)';
const UOM = '(kgs?|quilos?|grs?|gramas?|g|mg|ml|cl|lts?|litros?|l)';
const CONTAINERS = '(?:unidades?|unids?|und|un|latas?|garrafas?|long necks?|potes?|frascos?|caixinhas?|caixas?|pacotes?|saquinhos?|bandejas?|embalagens?)';
const ITEMS = '(?:rolos?|sach[eê]s?|c[aá]psulas?|folhas?|tabletes?|envelopes?|fraldas?|ovos?|pares?|p[cç]s|pe[cç]as?|itens?|doses?|cartelas?)';

const RE_MULTIPACK = new RegExp(`${BEFORE}(\\d+)${SP}*(?:${CONTAINERS}\\.?${SP}*)?[x×]${SP}*${NUMBER}${SP}*${UOM}${AFTER}`);
const RE_MEASURE = new RegExp(`${BEFORE}${NUMBER}${SP}*${UOM}${AFTER}`);
const RE_CONTAINERS = new RegExp(`${BEFORE}(\\d+)${SP}*${CONTAINERS}\\.?${AFTER}`);
const RE_NESTED = new RegExp(`${BEFORE}(\\d+)${SP}*${CONTAINERS}\\.?${SP}*(?:c/|com|de)${SP}*(\\d+)(?:[^${WORD}.]|$)`);
const RE_KIT = new RegExp(`[^${WORD}](?:kit|leve)${SP}*(?:c/|com)?${SP}*(\\d+)(?:[^${WORD}.%]|$)`);
const RE_WITH = new RegExp(`[^${WORD}](?:c/|com)${SP}*(\\d+)(?:[^${WORD}.%]|$)`);
const RE_ITEMS = new RegExp(`${BEFORE}(\\d+)${SP}*${ITEMS}${AFTER}`);
const RE_DOZENS = new RegExp(`${BEFORE}(\\d+(?:\\.\\d+)?)${SP}*d[uú]zias?${AFTER}`);
const RE_HALF_DOZEN = new RegExp(`[^${WORD}]meia d[uú]zia`);
const RE_DOZEN = new RegExp(`[^${WORD}]d[uú]zia${AFTER}`);
const RE_KG_ALONE = new RegExp(`${BEFORE}(?:kg|quilo)${AFTER}`);

const GRAMS_LIKE = new Set(['g', 'gr', 'grs', 'grama', 'gramas', 'mg', 'ml']);
const LITRES = new Set(['ml', 'cl', 'l', 'lt', 'lts', 'litro', 'litros']);

/** `1.000` with g/ml/mg is a thousands separator (1000 g); otherwise the dot is a decimal point. */
function amount(text: string, uom: string): number {
  return Number(GRAMS_LIKE.has(uom) && /^\d{1,3}\.\d{3}$/.test(text) ? text.replace('.', '') : text);
}

function factor(uom: string): number {
  if (uom === 'mg') return 0.000001;
  if (GRAMS_LIKE.has(uom)) return 0.001; // g, gr, grs, grama(s), ml
  if (uom === 'cl') return 0.01;
  return 1;
}

const unitOf = (uom: string): 'kg' | 'l' => (LITRES.has(uom) ? 'l' : 'kg');
/** DuckDB's `round(x, 9)`: round(x · 10⁹) / 10⁹ (values here are positive). */
const round9 = (x: number): number => Math.round(x * 1e9) / 1e9;
const int = (digits: string | undefined): number | undefined => (digits ? Number.parseInt(digits, 10) : undefined);

/**
 * The pack size in a product name, by the rules of `models/macros/pack_size.sql`:
 * `12x395g` → 12 × 0.395 kg, `6x1L`, `2L`, `1,5kg`, `500 g`, `200ml`, `350ml c/ 12` (12 cans),
 * `Kit 3 … 85g`, `2 Pacotes com 12 Latas 350ml` (24 cans),
 * `10 Sachês 15g` (15 g in total), counts without a measure (`12un`, `12 rolos`, `1 dúzia`) in `un`,
 * `Picanha Kg` → 1 kg. Numbers glued to letters are not sizes (`3 Corações`, `7Belo`, `70% Cacau`).
 * With VTEX hints, a name without a measure takes `unitMultiplier` in `measurementUnit`.
 * Null when nothing in the name is a size (where the SQL macro answers `1 un` from `'default'`).
 * @example parsePackSize('Leite Condensado Moça 12x395g') // { packQty: 12, unit: 'kg', netAmount: 4.74 }
 */
export function parsePackSize(name: string | null | undefined, hints: PackSizeHints = {}): PackSize | null {
  const n = ` ${(name ?? '').toLowerCase().replace(/(\d),(\d)/g, '$1.$2').replace(/[\u00a0\u2007\u202f]/g, ' ')} `.replace(/([^0-9])1\/2(?=[^0-9])/g, '$1 0.5');

  const x = RE_MULTIPACK.exec(n);
  if (x) {
    const qty = int(x[1])!;
    const uom = x[3]!;
    return { packQty: qty, unit: unitOf(uom), netAmount: round9(qty * amount(x[2]!, uom) * factor(uom)) };
  }

  const nested = RE_NESTED.exec(n);
  const containers = (nested ? int(nested[1])! * int(nested[2])! : undefined) ?? int(RE_KIT.exec(n)?.[1]) ?? int(RE_CONTAINERS.exec(n)?.[1]) ?? int(RE_WITH.exec(n)?.[1]);
  const items = int(RE_ITEMS.exec(n)?.[1]);
  const m = RE_MEASURE.exec(n);
  if (m) {
    const uom = m[2]!;
    return { packQty: containers ?? items ?? 1, unit: unitOf(uom), netAmount: round9((containers ?? 1) * amount(m[1]!, uom) * factor(uom)) };
  }

  const mu = hints.measurementUnit?.toLowerCase();
  const multiplier = hints.unitMultiplier;
  if (mu !== undefined && ['kg', 'g', 'l', 'ml'].includes(mu) && typeof multiplier === 'number' && multiplier > 0) {
    return { packQty: 1, unit: unitOf(mu), netAmount: round9(multiplier * factor(mu)) };
  }

  if (RE_HALF_DOZEN.test(n)) return { packQty: 6, unit: 'un', netAmount: 6 };
  const dozens = RE_DOZENS.exec(n);
  if (dozens) {
    const count = Math.round(12 * Number(dozens[1]));
    return { packQty: count, unit: 'un', netAmount: count };
  }
  if (RE_DOZEN.test(n)) return { packQty: 12, unit: 'un', netAmount: 12 };
  const count = containers ?? items;
  if (count !== undefined) return { packQty: count, unit: 'un', netAmount: count };
  if (RE_KG_ALONE.test(n)) return { packQty: 1, unit: 'kg', netAmount: 1 };
  return null;
}
