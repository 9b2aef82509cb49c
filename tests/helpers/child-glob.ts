/**
 * A child process that extracts a jsonSource glob into a lake and prints its SourceResult as one
 * JSON line, for globs over folders the test process itself could read (it may run as root).
 * Usage: node --import tsx child-glob.ts <root> <glob>
 */
import { Lakehouse } from '../../src/index.js';
import { jsonSource } from '../../src/extract/file-source.js';

const [root, glob] = process.argv.slice(2);
const lake = await Lakehouse.open({ root: root!, log: { console: false } });
try {
  const result = await lake.extract(jsonSource({ source: 'usb', dataset: 'orders', glob: glob! }));
  process.stdout.write(`${JSON.stringify(result.sources[0])}\n`);
} finally {
  await lake.close();
}
