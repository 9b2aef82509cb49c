import fs from 'node:fs';
import path from 'node:path';
import { Lakehouse, defineSource, z, type OpenOptions } from '../../src/index.js';
import { tempDir, registerCleanup } from './temp-lake.js';

/** Writes `files` (paths relative to models/) into a fresh project folder (models/ exists even when empty); returns it. */
export function modelsProject(files: Record<string, string>): { dir: string; models: string; root: string } {
  const dir = tempDir('duckhouse-models-');
  const models = path.join(dir, 'models');
  fs.mkdirSync(models, { recursive: true });
  writeFiles(models, files);
  return { dir, models, root: path.join(dir, 'data') };
}

export function writeFiles(models: string, files: Record<string, string>): void {
  for (const [rel, text] of Object.entries(files)) {
    const file = path.join(models, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
  }
}

export async function projectLake(files: Record<string, string>, options: OpenOptions = {}): Promise<{ lake: Lakehouse; models: string; root: string }> {
  const p = modelsProject(files);
  const lake = await Lakehouse.open({ root: p.root, models: p.models, log: { console: false }, ...options });
  registerCleanup(() => lake.close());
  return { lake, models: p.models, root: p.root };
}

export const priceSchema = z.object({ store: z.string(), sku: z.string(), price: z.number() });

/** A `shop/prices` source yielding these rows. */
export function prices(rows: [store: string, sku: string, price: number][]) {
  return defineSource({ source: 'shop', dataset: 'prices', schema: priceSchema, extract: () => [rows.map(([store, sku, price]) => ({ store, sku, price }))] });
}
