/** Result values of the public API. Statuses are exactly DESIGN's strings. */

export type RunOutcome = 'success' | 'partial' | 'failed';

export interface SourceResult {
  source: string;
  dataset: string;
  status: RunOutcome;
  /** Rows committed to bronze. */
  rows: number;
  /** Records sent to quarantine. */
  rejected: number;
  files: number;
  bytes: number;
  requests: number;
  retries: number;
  durationMs: number;
  error?: string;
  warnings?: string[];
}

export interface ExtractResult {
  runId: string;
  status: RunOutcome;
  sources: SourceResult[];
}

/** success when every part succeeded, failed when none did, partial otherwise. */
export function combineStatus(parts: { status: RunOutcome }[]): RunOutcome {
  if (parts.length === 0) return 'success';
  if (parts.every((p) => p.status === 'success')) return 'success';
  if (parts.every((p) => p.status === 'failed')) return 'failed';
  return 'partial';
}
