/**
 * A process compacting `shop/prices` (to be killed at a random moment by a test).
 * Usage: child-compact.ts <root> <models> <targetFileMb>
 */
import { Lakehouse } from '../../src/index.js';

const [root, models, target] = process.argv.slice(2) as [string, string, string];
const lake = await Lakehouse.open({ root, models, log: { console: false }, progress: false });
process.stdout.write('compacting\n');
// Small target files: several groups, so a kill can land anywhere among them.
const r = await lake.compact({ source: 'shop', dataset: 'prices', targetFileMb: Number(target) });
process.stdout.write(`${JSON.stringify(r)}\n`);
await lake.close();
