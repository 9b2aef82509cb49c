/**
 * Retiring a source the user dropped from the config (`lake.retireSource`). The lake cannot tell
 * a dropped source from one left out of this extract, so the user says so: freshness stops
 * judging it and its open alerts are resolved. It is about alerting only: bronze, cursors and the
 * run history stay as they are. A later successful extract of it lifts the retirement, with no
 * record of its own (see SOURCES_FRESHNESS_SQL).
 */
import { ConfigError } from '../errors.js';
import { readerRows, type Row } from '../db/values.js';
import { sourceLabel } from '../results.js';
import { closest, didYouMean } from '../transform/suggest.js';
import { PER_SOURCE_KINDS } from './alerts.js';
import type { MetricsDb } from './metrics-db.js';
import { SOURCES_FRESHNESS_SQL, chunks } from './schema.js';

export interface RetireSourceOptions {
  source: string;
  /** One dataset of the source; default every dataset of it. */
  dataset?: string;
  /** One scope of the dataset (its constant partition values as alerts name them, `store=a`); default every scope. */
  scope?: string;
}

export interface RetiredSource {
  source: string;
  dataset: string;
  scope?: string;
  /** As alerts name it: `vtex/products (store=a)`. */
  subject: string;
  /** Its last successful extract, null if it never had one. */
  lastSuccessAt: Date | null;
}

export interface RetireResult {
  /** The sources retired (those already retired included). */
  sources: RetiredSource[];
  /** Open alerts about them that were resolved: freshness, failures, volume, success rate, drift. */
  resolvedAlerts: number;
}

const RETIRED_KINDS = ['freshness', ...PER_SOURCE_KINDS];

/** Retires the sources of the run history that `options` names; a ConfigError naming the closest one when none. */
export async function retireSources(metrics: MetricsDb, options: RetireSourceOptions): Promise<RetireResult> {
  const { source, dataset, scope } = options;
  return metrics.transaction(async (c) => {
    // Superseded results (a dataset's from before it was split by store) are not a source of their own.
    const known = readerRows(await c.runAndReadAll(SOURCES_FRESHNESS_SQL)).filter((r) => r.superseded !== true);
    const matched = known.filter((r) => r.source === source && (dataset === undefined || r.dataset === dataset) && (scope === undefined || r.scope === scope));
    if (matched.length === 0) throw new ConfigError(`lake.retireSource: ${notFound(options, known)}; nothing was retired`);
    for (const chunk of chunks(matched)) {
      await c.run(`INSERT INTO source_retirements VALUES ${chunk.map((_, i) => `($${3 * i + 1}, $${3 * i + 2}, $${3 * i + 3}, now())`).join(', ')}`, chunk.flatMap((r) => [String(r.source), String(r.dataset), (r.scope as string | null) ?? null]));
    }
    const subjects = new Set(matched.map((r) => sourceLabel(r.source, r.dataset, r.scope)));
    // Alerts opened under the plain subject before scopes were recorded: a whole dataset retired takes them too.
    if (scope === undefined) for (const r of matched) subjects.add(sourceLabel(r.source, r.dataset, null));
    const open = readerRows(await c.runAndReadAll(`SELECT alert_id, kind, subject FROM alerts WHERE resolved_at IS NULL`));
    const resolved = open.filter((a) => RETIRED_KINDS.includes(String(a.kind)) && subjects.has(String(a.subject)));
    for (const chunk of chunks(resolved)) {
      await c.run(`UPDATE alerts SET resolved_at = now() WHERE alert_id IN (${chunk.map((_, i) => `$${i + 1}`).join(', ')})`, chunk.map((a) => String(a.alert_id)));
    }
    return {
      sources: matched.map((r) => ({
        source: String(r.source),
        dataset: String(r.dataset),
        ...(r.scope === null || r.scope === undefined ? {} : { scope: String(r.scope) }),
        subject: sourceLabel(r.source, r.dataset, r.scope),
        lastSuccessAt: r.last_ok instanceof Date ? r.last_ok : null,
      })),
      resolvedAlerts: resolved.length,
    };
  });
}

/** What was not found, and the closest known name at the level that did not match. */
function notFound({ source, dataset, scope }: RetireSourceOptions, known: Row[]): string {
  if (known.length === 0) return `no source ${JSON.stringify(source)}: the run history has no source yet`;
  if (!known.some((r) => r.source === source)) return `no source ${JSON.stringify(source)} in the run history${didYouMean(source, known.map((r) => String(r.source)))}`;
  const ofSource = known.filter((r) => r.source === source);
  if (dataset !== undefined && !ofSource.some((r) => r.dataset === dataset)) {
    return `no dataset ${JSON.stringify(dataset)} of source ${source} in the run history${didYouMean(`${source}/${dataset}`, ofSource.map((r) => `${source}/${String(r.dataset)}`))}`;
  }
  const scoped = ofSource.filter((r) => (dataset === undefined || r.dataset === dataset) && r.scope !== null && r.scope !== undefined);
  const where = `${source}${dataset === undefined ? '' : `/${dataset}`}`;
  const near = closest(String(scope), scoped.map((r) => String(r.scope)));
  const suggestion = near === undefined ? ` (${where} has no scopes)` : ` — did you mean ${scoped.filter((r) => r.scope === near).map((r) => sourceLabel(r.source, r.dataset, r.scope)).join(', ')}?`;
  return `no scope ${JSON.stringify(scope)} of ${where} in the run history${suggestion}`;
}
