/**
 * Dotted paths into JSON bodies (`paging.total`, `data.items`, `results.0.id`): enough for
 * items, totals, next-page tokens and cursor fields, without a JSONPath dependency.
 */

/** The value at `path` in `value` (`''` is the value itself), or undefined when any step is missing. */
export function valueAtPath(value: unknown, path: string): unknown {
  if (path === '') return value;
  let current: unknown = value;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** An ISO 8601 date-time with an offset (`Z` or `±hh:mm`): the instant it names, in ms. */
const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$/i;
function instantOf(v: unknown): number | undefined {
  if (v instanceof Date) return v.getTime();
  if (typeof v !== 'string' || !ISO_WITH_OFFSET.test(v)) return undefined;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * Orders cursor values: numbers numerically, date-times with offsets by the instant they name
 * (`10:00-03:00` is after `12:00Z`), anything else as text.
 */
export function compareCursor(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  // Integers past ±2^53 are bigints, the others numbers: `<` compares the two kinds exactly.
  if ((typeof a === 'bigint' || typeof a === 'number') && (typeof b === 'bigint' || typeof b === 'number')) return a < b ? -1 : a > b ? 1 : 0;
  const ia = instantOf(a);
  const ib = instantOf(b);
  if (ia !== undefined && ib !== undefined && ia !== ib) return ia - ib;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
