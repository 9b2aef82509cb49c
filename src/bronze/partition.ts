/**
 * Names and partition values that end up in paths.
 * Source and dataset names: `^[a-z][a-z0-9_]*$`. Partition values: anything printable up to
 * MAX_PARTITION_VALUE characters; DuckDB percent-encodes `/`, `=`, spaces and `%` when it
 * writes the directory and decodes them when it reads, so `a/b` and `../../x` stay inside
 * their `key=` directory and read back unchanged. NUL, control characters and overlong
 * values cannot be made safe and are refused, naming the field.
 */
import path from 'node:path';
import { PartitionError } from '../errors.js';

export const NAME_PATTERN = /^[a-z][a-z0-9_]*$/;
export const MAX_PARTITION_VALUE = 200;
/** Partition keys we add ourselves after the user's. */
export const DATE_KEYS = ['year', 'month', 'day'] as const;

export function checkName(kind: 'source' | 'dataset' | 'partition key', name: unknown, where: string): string {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name) || name.length > 64) {
    throw new PartitionError(
      `${where}: ${kind} name ${JSON.stringify(name)} is invalid: use lowercase letters, digits and _ , starting with a letter (at most 64 characters)`,
    );
  }
  return name;
}

/**
 * The text stored as a Hive partition value, or a PartitionError naming the field. A Date is its
 * calendar date in `timeZone` (the lake's, as `day=` is), not in UTC.
 */
export function partitionValue(field: string, value: unknown, where: string, timeZone = 'UTC'): string | null {
  if (value === null || value === undefined || value === '') return null;
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') text = String(value);
  else if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new PartitionError(`${where}: partition field "${field}" is an invalid Date`);
    const { year, month, day } = dateParts(value, timeZone);
    text = `${year}-${month}-${day}`;
  }
  else throw new PartitionError(`${where}: partition field "${field}" must be a string, number or boolean (got ${typeof value})`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(text)) {
    throw new PartitionError(`${where}: partition field "${field}" has a NUL or control character in ${JSON.stringify(text.slice(0, 40))}`);
  }
  if (text.length > MAX_PARTITION_VALUE) {
    throw new PartitionError(
      `${where}: partition field "${field}" is ${text.length} characters long (at most ${MAX_PARTITION_VALUE}): ${JSON.stringify(text.slice(0, 40))}…`,
    );
  }
  // DuckDB percent-encodes every byte but letters, digits and - _ . ~ in the folder name, which
  // must fit a file name (255 bytes on Linux): 150 slashes are 450.
  const folder = Buffer.byteLength(field) + 1 + encodedLength(text);
  if (folder > MAX_FOLDER_NAME) {
    throw new PartitionError(
      `${where}: partition field "${field}" makes a ${folder}-byte folder name (at most ${MAX_FOLDER_NAME}; bytes other than letters, digits and - _ . ~ take 3): ${JSON.stringify(text.slice(0, 40))}…`,
    );
  }
  // DuckDB writes a NULL partition under this name, and reads a folder named NULL (in any case)
  // as NULL too: the text itself would come back as NULL.
  if (text === HIVE_NULL || text.toLowerCase() === 'null') {
    throw new PartitionError(`${where}: partition field "${field}" is the Hive null marker ${JSON.stringify(text)}, which cannot be stored as text (DuckDB reads it back as NULL)`);
  }
  return text;
}

/** The longest file name Linux (and macOS) take: a partition folder `key=value` included. */
export const MAX_FOLDER_NAME = 255;
/** The folder name DuckDB writes a NULL partition value under. */
export const HIVE_NULL = '__HIVE_DEFAULT_PARTITION__';

/**
 * A `key=value` folder name as `[key, value]`: both percent-decoded (DuckDB encodes a warehouse
 * model's `partition_by` column name as its values: `store name` → `store%20name=`; bronze keys
 * need none), the NULL folder as null; undefined for a name that is not a partition folder.
 */
export function hiveFolder(segment: string): [string, string | null] | undefined {
  const eq = segment.indexOf('=');
  if (eq <= 0) return undefined;
  const value = decodeURIComponent(segment.slice(eq + 1));
  return [decodeURIComponent(segment.slice(0, eq)), value === HIVE_NULL ? null : value];
}

/** The partition values a relative partition folder (`store=a/year=2026/…`) names, by key. */
export function partitionOfDir(dir: string): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  if (dir === '' || dir === '.') return out;
  for (const segment of dir.split(path.sep)) {
    const folder = hiveFolder(segment);
    if (folder) out[folder[0]] = folder[1];
  }
  return out;
}

/** The bytes of `text` percent-encoded as DuckDB names partition folders: 3 for each byte but letters, digits and - _ . ~. */
export function encodedLength(text: string): number {
  let n = 0;
  for (const byte of Buffer.from(text, 'utf8')) {
    const unreserved = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || byte === 0x2d || byte === 0x5f || byte === 0x2e || byte === 0x7e;
    n += unreserved ? 1 : 3;
  }
  return n;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
/** Per time zone, the last UTC minute formatted and its parts. */
const lastMinute = new Map<string, { minute: number; parts: { year: string; month: string; day: string } }>();
/** Since 1980 every zone's offset is a whole number of minutes: one UTC minute has one local date. */
const WHOLE_MINUTE_OFFSETS_SINCE = Date.UTC(1980, 0, 1);

/**
 * `{ year: 'YYYY', month: 'MM', day: 'DD' }` of an instant in a time zone. Formatting costs
 * ~12 µs; a source stamping each page with its own instant asks for the same minute many times.
 */
export function dateParts(instant: Date, timeZone: string): { year: string; month: string; day: string } {
  const ms = instant.getTime();
  const minute = Math.floor(ms / 60_000);
  const cached = lastMinute.get(timeZone);
  if (cached && cached.minute === minute && ms >= WHOLE_MINUTE_OFFSETS_SINCE) return { ...cached.parts };
  let fmt = formatters.get(timeZone);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    formatters.set(timeZone, fmt);
  }
  const [year, month, day] = fmt.format(instant).split('-') as [string, string, string];
  const parts = { year, month, day };
  lastMinute.set(timeZone, { minute, parts: { ...parts } });
  return parts;
}

const wallFormatters = new Map<string, Intl.DateTimeFormat>();

/** How far a zone's wall clock is ahead of UTC at an instant, in ms (São Paulo in 2026: −3 h; in December 2018: −2 h). */
export function offsetAt(ms: number, timeZone: string): number {
  let fmt = wallFormatters.get(timeZone);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    wallFormatters.set(timeZone, fmt);
  }
  const p = Object.fromEntries(fmt.formatToParts(ms).map((x) => [x.type, Number(x.value)]));
  const whole = Math.floor(ms / 1000) * 1000;
  // Date.UTC maps years 0-99 to 1900-1999; setUTCFullYear does not.
  const wall = new Date(Date.UTC(2000, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!)).setUTCFullYear(p.year!);
  return wall - whole;
}

/**
 * The first instant (epoch ms) of a calendar day `YYYY-MM-DD` in a time zone, with the offset the
 * zone had that day: São Paulo's 2018-12-01 began at 02:00Z (summer time), and its 2018-11-04 at
 * 01:00 local (03:00Z), its midnight skipped; Amman's 2021-10-29 at its first midnight (21:00Z),
 * the clock set back from 01:00 to 00:00. The day ends where the next one begins.
 */
export function startOfDay(date: string, timeZone: string): number {
  const midnight = Date.parse(`${date}T00:00:00Z`);
  const first = midnight - offsetAt(midnight, timeZone);
  const second = midnight - offsetAt(first, timeZone);
  // A clock set back across midnight reads midnight twice: the first at the offset before the
  // change, which neither guess above has (both are after it). The offset a day earlier is that one.
  const before = midnight - offsetAt(Math.min(first, second) - 86_400_000, timeZone);
  // Where the offset changes near midnight the guesses differ: the earliest one on that date.
  const onDate = (t: number): boolean => Object.values(dateParts(new Date(t), timeZone)).join('-') === date;
  return [before, first, second].sort((a, b) => a - b).find(onDate) ?? first;
}
