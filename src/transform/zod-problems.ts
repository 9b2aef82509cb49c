/** Turns zod issues into "field: what is wrong (got value)" phrases for model and YAML errors. */
import type { z } from 'zod';
import { didYouMean } from './suggest.js';

/** One phrase per issue (at most five), naming the field, the rule and the bad value. */
export function zodProblems(error: z.ZodError, input: unknown, noun: string, knownKeys: readonly string[] = []): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => {
      const field = issue.path.map(String).join('.');
      if (issue.code === 'unrecognized_keys') {
        const base = field ? `${field}.` : '';
        return issue.keys.map((key) => `unknown ${noun} "${base}${key}"${didYouMean(key, knownKeys)}`).join('; ');
      }
      const value = valueAt(input, issue.path);
      if (value === undefined && issue.code === 'invalid_type') return `${noun} "${field}" is missing (${issue.expected} expected)`;
      const message = issue.message.replace(/^Invalid (input|option): /, '');
      return `${noun} "${field || '(root)'}" ${message} (got ${show(value)})`;
    })
    .join('; ');
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = input;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  try {
    const text = JSON.stringify(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return String(value);
  }
}
