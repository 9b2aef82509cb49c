/**
 * Injects faults into loopback routes at a fixed rate: one request in ten of each route fails,
 * at a seeded random place inside each block of ten (never its first or last request, so a
 * retry never meets a second fault in a row and the per-host breaker stays closed), and the
 * kinds take turns across routes: 429 with Retry-After, 503, a reset socket, a stall past the
 * client's timeout, truncated JSON. Every injected fault is logged, so a test can count them.
 * No vitest import: usable from child processes too.
 */
import { faults, type Handler } from './faulty-server.js';

export const FAULT_KINDS = ['429', '503', 'reset', 'stall', 'truncated'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface InjectedFault {
  kind: FaultKind;
  path: string;
  /** The route's request number that failed (1-based). */
  request: number;
}

export interface FaultInjector {
  readonly log: InjectedFault[];
  /** `handler` with one request in ten failing. */
  wrap(path: string, handler: Handler): Handler;
  /** Faults injected on `path` (of `kind`) since `since` (an index into `log`). */
  count(path: string, kind?: FaultKind, since?: number): number;
}

export function faultInjector(random: () => number, options: { retryAfterSeconds?: number; every?: number } = {}): FaultInjector {
  const every = options.every ?? 10;
  const log: InjectedFault[] = [];
  const places = new Map<string, number[]>();
  let turn = 0;
  const handlers: Record<FaultKind, Handler> = {
    '429': faults.status(429, { 'retry-after': String(options.retryAfterSeconds ?? 1) }),
    '503': faults.status(503),
    reset: faults.resetSocket(),
    stall: faults.stall(),
    truncated: faults.truncatedJson({ data: [{ id: 1, name: 'cut here', price: 1 }], meta: { total_pages: 1 } }),
  };
  return {
    log,
    wrap: (path, handler) => (req, res, hit) => {
      const block = Math.floor((hit.count - 1) / every);
      const blocks = places.get(path) ?? [];
      while (blocks.length <= block) blocks.push(1 + Math.floor(random() * (every - 2)));
      places.set(path, blocks);
      if ((hit.count - 1) % every !== blocks[block]) return handler(req, res, hit);
      const kind = FAULT_KINDS[turn++ % FAULT_KINDS.length]!;
      log.push({ kind, path, request: hit.count });
      return handlers[kind](req, res, hit);
    },
    count: (path, kind, since = 0) => log.slice(since).filter((f) => f.path === path && (kind === undefined || f.kind === kind)).length,
  };
}
