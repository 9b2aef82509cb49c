/** "did you mean …?" for names typed by a person: the candidate at the smallest edit distance. */

/** Levenshtein distance (insert, delete, substitute each cost 1). */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The candidate closest to `target` (ties: the first in sorted order), or undefined when there
 * are no candidates. `closest('stg_ordrs', ['stg_orders', 'dim_stores'])` → `'stg_orders'`.
 */
export function closest(target: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of [...new Set(candidates)].sort()) {
    const distance = editDistance(target.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** `' — did you mean x?'`, or '' when there is nothing to suggest. */
export function didYouMean(target: string, candidates: Iterable<string>): string {
  const best = closest(target, candidates);
  return best === undefined ? '' : ` — did you mean ${best}?`;
}
