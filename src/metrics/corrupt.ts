/**
 * DuckDB reports a damaged file as "IO Error: Corrupt database file: computed checksum … in block
 * at location …", naming neither the file nor what it holds. For the metrics database that is
 * every operation of the lake (each records its run), so the error names the file, what it
 * holds, and the way out that loses nothing.
 */
import { DuckhouseError } from '../errors.js';

const CORRUPT = /Corrupt database file|Corrupt WAL file|Failure while replaying WAL|is not a valid DuckDB database file|database has been invalidated/i;

/** The error to throw for `error`, raised while reading or writing the metrics database `file`: a clear one when DuckDB found it damaged. */
export function metricsFileError(file: string, error: unknown): unknown {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof DuckhouseError || !CORRUPT.test(message)) return error;
  return new DuckhouseError(
    'METRICS_CORRUPT',
    `the metrics database ${file} is damaged (DuckDB: ${message}). It holds the run history and which bronze files readers see (compaction and prune switches): ` +
      'restore it from a backup of the lake, or copy its readable tables into a new file with any DuckDB client. Moving it aside starts an empty history, ' +
      "in which bronze files written by compaction stay hidden (each run's result also stays in metrics/results/).",
    { cause: error },
  );
}
