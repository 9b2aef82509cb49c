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

/** Orders cursor values: numbers numerically, anything else as text (ISO dates sort as text). */
export function compareCursor(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
