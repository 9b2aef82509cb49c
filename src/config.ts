/**
 * Strict option schemas, checked once at the door. An unknown or invalid option throws a
 * ConfigError that names the field and the bad value.
 */
import { z } from 'zod';
import { ConfigError } from './errors.js';
import type { RunResult } from './results.js';
import { didYouMean } from './transform/suggest.js';

/** Parses `input` with `schema`; on failure throws a ConfigError naming each bad field and value. */
export function parseOptions<S extends z.ZodType>(schema: S, input: unknown, where: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.slice(0, 5).map((issue) => describeIssue(issue, input));
  throw new ConfigError(`${where}: ${problems.join('; ')}`, { cause: result.error });
}

/**
 * Refuses an options object with a key the method does not know (a misspelt `dryrun` must not
 * run a real prune), naming the key and the closest known one. For methods whose option values
 * are checked one by one; `undefined` options pass.
 */
export function checkOptionKeys(options: unknown, known: readonly string[], where: string): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new ConfigError(`${where}: options must be an object (got ${show(options)})`);
  }
  const unknown = Object.keys(options).filter((k) => !known.includes(k));
  if (unknown.length === 0) return;
  throw new ConfigError(`${where}: ${unknown.map((k) => `unknown option "${k}"${didYouMean(k, known)}`).join('; ')} (known: ${known.join(', ')})`);
}

const selectors = z.array(z.string()).optional();
const modelVars = z.record(z.string(), z.unknown()).optional();

/** `lake.build` options (its keys are also `lake.run`'s build part). */
export const buildOptionsSchema = z.strictObject({
  select: selectors,
  exclude: selectors,
  fullRefresh: z.boolean().optional(),
  vars: modelVars,
  test: z.boolean().optional(),
});

/** `lake.test` options. */
export const testOptionsSchema = z.strictObject({ select: selectors, exclude: selectors, vars: modelVars });

/** `lake.run` options: sources are checked one by one (isSource) by the extract. */
export const runOptionsSchema = z.strictObject({
  sources: z.array(z.unknown()).optional(),
  select: selectors,
  exclude: selectors,
  fullRefresh: z.boolean().optional(),
  vars: modelVars,
  extractedAt: z.date().optional(),
});

/** `lake.exportDdl` options: the schema is printed into every statement, so it must be a plain identifier. */
export const exportDdlOptionsSchema = z.strictObject({
  engine: z.enum(['spark', 'trino', 'athena']),
  locationPrefix: z.string().min(1).optional(),
  schema: z.string().regex(/^[a-z_][a-z0-9_]*$/, 'must be a lower-case SQL identifier (letters, digits, _)').optional(),
});

function describeIssue(issue: z.core.$ZodIssue, input: unknown): string {
  const field = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const base = field ? `${field}.` : '';
    return `unknown option ${issue.keys.map((k) => `"${base}${k}"`).join(', ')}`;
  }
  const got = valueAt(input, issue.path);
  return `option "${field || '(root)'}" ${issue.message.replace(/^Invalid input: /, '')} (got ${show(got)})`;
}

function valueAt(input: unknown, p: PropertyKey[]): unknown {
  let cur: unknown = input;
  for (const key of p) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

function show(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (value === undefined) return 'undefined';
  // JSON has no NaN or Infinity (it writes null); a bigint it refuses.
  if (typeof value === 'number' || typeof value === 'bigint') return Object.is(value, -0) ? '-0' : String(value);
  try {
    const text = JSON.stringify(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return String(value);
  }
}

const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();
const share = z.number().min(0).max(1);

const limitFields = {
  requestTimeoutMillis: positiveInt,
  retries: nonNegativeInt,
  backoffBaseMillis: nonNegativeInt,
  backoffMaxMillis: nonNegativeInt,
  requestsPerSecond: z.number().positive(),
  burst: positiveInt,
  inFlight: positiveInt,
  breakerFailures: positiveInt,
  breakerCooldownMillis: nonNegativeInt,
  flushRows: positiveInt,
  flushBytes: positiveInt,
  maxResponseBytes: positiveInt,
  compactionTargetMb: positiveInt,
};

/** DESIGN's defaults. */
export const DEFAULT_LIMITS = {
  requestTimeoutMillis: 30_000,
  retries: 5,
  backoffBaseMillis: 500,
  backoffMaxMillis: 30_000,
  requestsPerSecond: 5,
  burst: 5,
  inFlight: 4,
  breakerFailures: 5,
  breakerCooldownMillis: 60_000,
  flushRows: 100_000,
  flushBytes: 64 * 1024 * 1024,
  maxResponseBytes: 64 * 1024 * 1024,
  compactionTargetMb: 128,
} as const;

/** Limits shared by every source unless a source overrides them. Units are in the names. */
export const limitsSchema = z.strictObject(
  Object.fromEntries(Object.entries(limitFields).map(([k, v]) => [k, v.default(DEFAULT_LIMITS[k as keyof typeof DEFAULT_LIMITS])])) as {
    [K in keyof typeof limitFields]: z.ZodDefault<(typeof limitFields)[K]>;
  },
);

/**
 * A source's (or a connector's) overrides: every field optional and without defaults, so what
 * it leaves out keeps the lake's value. (`limitsOverrideSchema` would fill in the defaults.)
 */
export const limitsOverrideSchema = z.strictObject(limitFields).partial();

export type Limits = z.output<typeof limitsSchema>;

/** The eight data-quality dimensions a model is scored on (DESIGN). */
export const QUALITY_DIMENSIONS = ['completeness', 'uniqueness', 'validity', 'accuracy', 'conformity', 'consistency', 'integrity', 'timeliness'] as const;

export const qualitySchema = z.strictObject({
  maxNullShare: share.default(0.2),
  maxDuplicateShare: share.default(0.05),
  minQualityScore: share.default(0.8),
  minExtractionSuccess: share.default(0.95),
  gateSeverity: z.enum(['warn', 'error']).default('warn'),
  freshnessWarnHours: z.number().positive().default(24),
  freshnessErrorHours: z.number().positive().default(72),
  volumeMinShare: share.default(0.8),
  volumeWindowRuns: positiveInt.default(7),
  weights: z.strictObject(Object.fromEntries(QUALITY_DIMENSIONS.map((d) => [d, z.number().nonnegative().optional()])) as Record<(typeof QUALITY_DIMENSIONS)[number], z.ZodOptional<z.ZodNumber>>).optional(),
}).refine((q) => q.freshnessErrorHours >= q.freshnessWarnHours, {
  // A freshness alert is raised past the warn window only: an error window inside it would never fire.
  path: ['freshnessErrorHours'],
  error: (issue) => `must be at least freshnessWarnHours (${(issue.input as { freshnessWarnHours: number }).freshnessWarnHours})`,
});
export type QualityOptions = z.output<typeof qualitySchema>;

const timezone = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'must be an IANA time zone such as "America/Sao_Paulo"');

export const openOptionsSchema = z.strictObject({
  root: z.string().min(1).default('data'),
  models: z.string().min(1).default('models'),
  timezone: timezone.default('America/Sao_Paulo'),
  vars: z.record(z.string(), z.unknown()).default({}),
  log: z
    .strictObject({
      level: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
      file: z.union([z.string().min(1), z.literal(false)]).optional(),
      console: z.boolean().optional(),
      /** Rotation: a log file is rotated at this size, and this many files are kept. */
      maxSizeMb: z.number().positive().default(10),
      maxFiles: positiveInt.default(30),
    })
    .default({ level: 'info', maxSizeMb: 10, maxFiles: 30 }),
  limits: limitsSchema.default(limitsSchema.parse({})),
  quality: qualitySchema.default(qualitySchema.parse({})),
  /** Show progress bars; default: only on a terminal outside CI. */
  progress: z.boolean().optional(),
  /** Notification hook, called with the finished run of `lake.run()`. */
  onRunFinished: z.custom<(run: RunResult) => unknown>((v) => typeof v === 'function', 'must be a function').optional(),
  /** How long superseded warehouse files stay for readers of an older catalog. */
  retainSupersededMinutes: z.number().nonnegative().default(60),
  /** How long to wait for another process's lock on a database file. */
  lockTimeoutMillis: positiveInt.default(30_000),
  /** A `running` run of another host reads as abandoned once it has recorded nothing for this long. */
  otherHostAbandonHours: z.number().positive().default(24),
});

export type OpenOptions = z.input<typeof openOptionsSchema>;
export type ResolvedOptions = z.output<typeof openOptionsSchema>;
