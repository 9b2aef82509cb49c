/**
 * Every error duckhouse throws is a DuckhouseError with a stable `code`, a message that says
 * what, where and why, and the original `cause` when there is one.
 */
export class DuckhouseError extends Error {
  readonly code: string;
  /** Whether repeating the same operation may succeed (network faults, locks). */
  readonly retryable: boolean;

  constructor(code: string, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/** An option, a config file or a source definition is invalid. Names the field and the value. */
export class ConfigError extends DuckhouseError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('CONFIG_INVALID', message, options);
  }
}

/** A lake method was called after `close()`, or was stopped by it; `reason`: the one given to `close()` (`interrupted by SIGINT`). */
export class ClosedError extends DuckhouseError {
  constructor(what: string, reason?: string) {
    super('LAKE_CLOSED', `${what}: the lakehouse is closed${reason ? ` (${reason})` : ''}`);
  }
}

/** A partition value or a source/dataset name that cannot be made safe for a path. */
export class PartitionError extends DuckhouseError {
  constructor(message: string) {
    super('PARTITION_INVALID', message);
  }
}

/** A database file is held by another process longer than we were willing to wait. */
export class LockError extends DuckhouseError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('LOCKED', message, { ...options, retryable: true });
  }
}

/** A source failed to extract (after its retries). */
export class SourceError extends DuckhouseError {
  constructor(code: string, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(code, message, options);
  }
}

/** A model failed to compile or build: the message names the model and its file. */
export class ModelError extends DuckhouseError {
  constructor(code: string, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options);
  }
}

/**
 * DuckDB refused or failed a read (`lake.query`, `lake.queryArrow`, `lake.bronze`): a statement that
 * does not parse or bind, a missing table, a failed cast. The message is DuckDB's, whole
 * ("Parser Error: syntax error at or near …"), so it can be searched for; not retried.
 */
export class QueryError extends DuckhouseError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('QUERY_FAILED', message, options);
  }
}

/** Message of any thrown value, for results and logs. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
