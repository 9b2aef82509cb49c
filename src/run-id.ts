import { randomBytes } from 'node:crypto';

/**
 * Run ids sort by start time: `YYYYMMDDTHHMMSSmmmZ-xxxxxx` (UTC, then 6 random hex digits),
 * so "up to run X" is a string comparison and file names stay short and path-safe.
 */
export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:.]/g, '').replace('T', 'T');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

export const RUN_ID_PATTERN = /^\d{8}T\d{9}Z-[0-9a-f]{6}$/;
