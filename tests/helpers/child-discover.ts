/**
 * Discovers a model project in a fresh process and prints, as JSON, the node ids, the number of
 * tests, and whether the YAML parser was loaded (the `yaml` package is CommonJS under Node, so a
 * load shows in the require cache).
 *   tsx child-discover.ts <models dir>
 */
import { createRequire } from 'node:module';
import { discoverProject } from '../../src/transform/project.js';

const require = createRequire(import.meta.url);
const yamlLoaded = (): boolean => Object.keys(require.cache).some((k) => /[\\/]node_modules[\\/]yaml[\\/]/.test(k));
const before = yamlLoaded();
const project = await discoverProject(process.argv[2]!);
process.stdout.write(`${JSON.stringify({ before, yamlLoaded: yamlLoaded(), nodes: [...project.nodes.keys()], tests: project.tests.length })}\n`);
