/**
 * duckhouse as a user installs it from npm: the package built from the current src/ (tsc into a
 * temp folder, with package.json and models/ as `files` ships them), linked into fresh user
 * projects whose node_modules hold only duckhouse and its `dependencies` (no devDependencies:
 * no @types/nunjucks, no vitest), as `npm install duckhouse` leaves them.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const pkgJson = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
const tsc = path.join(repo, 'node_modules', 'typescript', 'bin', 'tsc');

let base = '';
let pkg = '';

/** A user project at base/<name>: its package.json, node_modules/duckhouse → the built package, and its files. */
function userProject(name: string, packageJson: object, files: Record<string, string>): string {
  const dir = path.join(base, name);
  fs.mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(packageJson, null, 2));
  fs.symlinkSync(pkg, path.join(dir, 'node_modules', 'duckhouse'), 'dir');
  for (const [file, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, file), text);
  return dir;
}

function run(cwd: string, args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', env: { ...process.env, CI: 'true', NODE_PATH: '' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

beforeAll(() => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'duckhouse-install-'));
  pkg = path.join(base, 'pkg');
  fs.mkdirSync(pkg);
  const built = run(repo, [tsc, '-p', 'tsconfig.build.json', '--outDir', path.join(pkg, 'dist')]);
  expect(built.code, built.out + built.err).toBe(0);
  fs.copyFileSync(path.join(repo, 'package.json'), path.join(pkg, 'package.json'));
  fs.cpSync(path.join(repo, 'models'), path.join(pkg, 'models'), { recursive: true });
  // What `npm install duckhouse` puts next to it: its dependencies (their own dependencies resolve
  // from their real folders), and @types/node, which a TypeScript user installs anyway.
  const nm = path.join(base, 'node_modules');
  for (const dep of [...Object.keys(pkgJson.dependencies), '@types/node']) {
    fs.mkdirSync(path.dirname(path.join(nm, dep)), { recursive: true });
    fs.symlinkSync(path.join(repo, 'node_modules', dep), path.join(nm, dep), 'dir');
  }
}, 180_000);

afterAll(() => {
  if (base) fs.rmSync(base, { recursive: true, force: true });
});

const config = `import { defineSource, z } from 'duckhouse';

const prices = defineSource({
  source: 'shop',
  dataset: 'prices',
  partitionBy: ['store'],
  schema: z.object({ store: z.string(), sku_id: z.string(), price: z.number().positive() }),
  async *extract() {
    yield [{ store: 'bistek', sku_id: '1', price: 9.9 }];
  },
});

export default { sources: [prices], log: { console: false } };
`;

const tsconfig = (skipLibCheck: boolean): string =>
  JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck }, include: ['*.ts'] });

describe('duckhouse installed from npm', () => {
  it('a duckhouse.config.ts importing from "duckhouse" loads in a CommonJS project (npm init\'s default package.json)', () => {
    // README: `npx duckhouse <command>` reads its sources from duckhouse.config.{ts,mjs,js}. tsx compiles a .ts
    // config in a package without "type": "module" to CommonJS, so `import … from 'duckhouse'` becomes require().
    const dir = userProject('cjs-user', { name: 'cjs-user', version: '1.0.0', private: true }, { 'duckhouse.config.ts': config });
    const r = run(dir, [path.join(pkg, 'dist', 'cli.js'), 'extract']);
    // Observed: exit 2, `duckhouse: duckhouse.config.ts: No "exports" main defined in …/node_modules/duckhouse/package.json`
    expect(r.err).not.toMatch(/No "exports" main defined/);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toMatch(/shop\/prices: success, 1 rows/);
  }, 120_000);

  it('the published declarations type-check in a user project that has only the dependencies (skipLibCheck: false)', () => {
    const dir = userProject(
      'types-user',
      { name: 'types-user', version: '1.0.0', private: true, type: 'module' },
      {
        'tsconfig.json': tsconfig(false),
        'main.ts': `import { Lakehouse, httpSource, csvSource, defineSource, z } from 'duckhouse';\nconst lake = await Lakehouse.open({ root: 'data' });\nawait lake.close();\nexport { httpSource, csvSource, defineSource, z };\n`,
      },
    );
    const r = run(dir, [tsc, '-p', '.']);
    // Observed: dist/transform/jinja.d.ts(6,22): error TS7016: Could not find a declaration file for module 'nunjucks'
    // (@types/nunjucks is a devDependency, so a user's install does not have it).
    expect(r.out + r.err).not.toMatch(/TS7016/);
    expect(r.code, r.out + r.err).toBe(0);
  }, 120_000);

  it("README's onRunFinished hook type-checks: the hook receives the RunResult, not unknown", () => {
    // README "Pipeline, CLI and scheduling", pasted as is (with the imports it needs).
    const dir = userProject(
      'hook-user',
      { name: 'hook-user', version: '1.0.0', private: true, type: 'module' },
      {
        'tsconfig.json': tsconfig(true),
        'main.ts': `import { Lakehouse, type AnySource } from 'duckhouse';
const sources: AnySource[] = [];
const lake = await Lakehouse.open({
  onRunFinished: async (run) => {   // notifications are yours: mail, chat…
    if (run.status !== 'success') await fetch(process.env.CHAT_WEBHOOK!, { method: 'POST', body: JSON.stringify({ text: \`duckhouse \${run.status}: \${run.alerts.map((a) => a.message).join('; ')}\` }) });
  },
});
try {
  const run = await lake.run({ sources, select: ['fct_prices_daily+'] });   // extract → build → tests → hook
} finally { await lake.close(); }
`,
      },
    );
    const r = run(dir, [tsc, '-p', '.']);
    // Observed: main.ts(5,9): error TS18046: 'run' is of type 'unknown'. (and 3 more)
    expect(r.out + r.err).not.toMatch(/TS18046/);
    expect(r.code, r.out + r.err).toBe(0);
  }, 120_000);
});
