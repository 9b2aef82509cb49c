/**
 * Opens the lake under <root> (its recovery: dead runs marked, unrecorded finishes recorded), closes
 * it, and prints "opened".
 *   tsx child-open.ts <root>
 */
import { Lakehouse } from '../../src/index.js';

const [root] = process.argv.slice(2) as [string];
const lake = await Lakehouse.open({ root, log: { console: false } });
await lake.close();
console.log('opened');
