/**
 * The layer rule over the real import graph of src/ (docs/architecture.md):
 * front ends (cli, api) -> the service API -> domain -> core. Every import
 * points down; front ends reach the domain only through the service; a
 * domain folder imports another only along the edges listed below; no
 * module imports itself back through a circle, type-only imports included
 * (a type circle is still two modules that cannot be understood apart).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

const SRC = path.resolve('src');

/** Top-level entries of src/ by layer, highest first. A new folder must be placed here (the test says so). */
const LAYERS: [string, string[]][] = [
  ['front end', ['cli', 'api']],
  ['service', ['service']],
  ['domain', ['search', 'evaluators', 'sim', 'host', 'collector', 'ml', 'confdb', 'analyze']],
  ['core', ['readers', 'writers', 'trace', 'space', 'gpr', 'features', 'blockdev', 'util', 'errors.ts', 'config.ts', 'native.ts']],
];

/** Imports that cross the rule on purpose, with the reason. */
const ALLOWED: Record<string, string> = {
  // `ssdtune serve` is the command that starts the other front end.
  'cli/commands/serve.ts -> api/server.ts': 'serve starts the REST front end',
};

/**
 * The domain folders that may import one another, with the reason. Anything else the domain folders share
 * belongs in core (as the host identity that apply and a ConfDB import both check: util/host-identity.ts).
 */
const DOMAIN_EDGES: Record<string, string> = {
  'search -> evaluators': 'a search asks the evaluators for grades',
  'sim -> evaluators': 'the simulators are evaluators',
  'evaluators -> host': 'the live evaluator tries configurations through the applier',
  'host -> confdb': "the applier's way back is a ConfDB record",
  'confdb -> evaluators': "evaluation records hold the evaluators' metrics (types)",
};

const layerOf = new Map<string, number>(LAYERS.flatMap(([, dirs], i) => dirs.map((d) => [d, i] as [string, number])));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}

/** Relative imports of a file (static, dynamic, re-exports, type-only), as src-relative .ts paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g)) {
    out.push(path.relative(SRC, path.resolve(path.dirname(file), m[1]!.replace(/\.js$/, '.ts'))));
  }
  return out;
}

const graph = new Map(sources(SRC).map((f) => [path.relative(SRC, f), importsOf(f)]));
const top = (rel: string) => rel.split(path.sep)[0]!;

test('every top-level folder of src/ has a layer', () => {
  const unplaced = [...new Set([...graph.keys()].map(top))].filter((t) => !layerOf.has(t));
  assert.deepEqual(unplaced, [], 'add these to LAYERS in test/layers.test.ts (and docs/architecture.md)');
});

/** Imports that break the layer rule, each with why. */
function violations(g: Map<string, string[]>): string[] {
  const bad: string[] = [];
  for (const [from, deps] of g) {
    const lf = layerOf.get(top(from));
    for (const to of deps) {
      const lt = layerOf.get(top(to));
      if (lf === undefined || lt === undefined || top(from) === top(to)) continue;
      const edge = `${from} -> ${to}`;
      if (ALLOWED[edge]) continue;
      if (lt < lf) bad.push(`${edge} (${LAYERS[lf]![0]} imports ${LAYERS[lt]![0]})`);
      else if (lf === 0 && lt === 0) bad.push(`${edge} (one front end imports another)`);
      else if (lf === 0 && lt === 2) bad.push(`${edge} (a front end imports the domain; go through src/service/api.ts)`);
      else if (lf === 2 && lt === 2 && !DOMAIN_EDGES[`${top(from)} -> ${top(to)}`]) {
        bad.push(`${edge} (one domain folder imports another; move what both need to core, or list the edge in DOMAIN_EDGES with why)`);
      }
    }
  }
  return bad;
}

/** Circles of imports (Tarjan's strongly connected components over the file graph). */
function circles(g: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!g.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (g.get(v) ?? []).includes(v)) found.push(comp.sort());
    }
  };
  for (const v of g.keys()) if (!idx.has(v)) visit(v);
  return found;
}

test('imports point down: no lower layer imports a higher one; front ends reach the domain only through the service', () => {
  assert.deepEqual(violations(graph), []);
});

test('no import circles', () => {
  assert.deepEqual(circles(graph), []);
});

test('the checks find what they look for: planted upward, sideways and front-to-domain imports, and a circle', () => {
  const g = new Map<string, string[]>([
    ['host/a.ts', ['service/b.ts', 'confdb/f.ts']],
    ['cli/c.ts', ['ml/d.ts', 'api/e.ts', 'service/b.ts', 'errors.ts']],
    ['service/b.ts', ['host/a.ts']],
    ['confdb/f.ts', ['host/a.ts', 'util/g.ts']],
  ]);
  assert.deepEqual(violations(g), [
    'host/a.ts -> service/b.ts (domain imports service)',
    'cli/c.ts -> ml/d.ts (a front end imports the domain; go through src/service/api.ts)',
    'cli/c.ts -> api/e.ts (one front end imports another)',
    'confdb/f.ts -> host/a.ts (one domain folder imports another; move what both need to core, or list the edge in DOMAIN_EDGES with why)',
  ]);
  assert.deepEqual(circles(g), [['confdb/f.ts', 'host/a.ts', 'service/b.ts']]);
  assert.ok(graph.size > 100, `the real graph has ${graph.size} modules`);
});
