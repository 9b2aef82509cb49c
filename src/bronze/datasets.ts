/**
 * The datasets bronze holds, read from its folders: what `duckhouse compact|prune` picks from and
 * what `lake.compact` / `lake.prune` check a name against, with one error text for a name it does
 * not hold. Light on purpose (only `node:fs`): the CLI loads it at start.
 */
import fs from 'node:fs';
import path from 'node:path';

const isDir = (p: string): boolean => fs.statSync(p, { throwIfNoEntry: false })?.isDirectory() === true;

/**
 * Every `[source, dataset]` under `<root>/bronze`, sorted. A stray entry (`.DS_Store`, a dangling
 * symlink) is no dataset, as for export-ddl: it must not stop a command.
 */
export function bronzeDatasets(root: string): [string, string][] {
  const bronze = path.join(root, 'bronze');
  const existing: [string, string][] = [];
  for (const source of isDir(bronze) ? fs.readdirSync(bronze).sort() : []) {
    const dir = path.join(bronze, source);
    if (!isDir(dir)) continue;
    for (const dataset of fs.readdirSync(dir).sort()) if (isDir(path.join(dir, dataset))) existing.push([source, dataset]);
  }
  return existing;
}

/** Whether bronze has a folder for `source/dataset`. */
export function hasBronzeDataset(root: string, source: string, dataset: string): boolean {
  return isDir(path.join(root, 'bronze', source, dataset));
}

/** The error for names bronze does not hold: `no bronze dataset "x"; bronze has: a/b, c/d`. */
export function noBronzeDataset(names: string[], existing: [string, string][]): string {
  return `no bronze dataset ${names.map((n) => JSON.stringify(n)).join(', ')}; bronze has: ${existing.map(([s, d]) => `${s}/${d}`).join(', ') || 'nothing yet'}`;
}
