import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';

const SRC = join(import.meta.dirname, '..', '..', 'src');

/**
 * The layers of docs/ARCHITECTURE.md and what each may import besides itself: imports point one way, from the
 * command line down to the protocol. Type-only imports count too: they are dependencies all the same.
 */
const MAY_IMPORT: Record<string, readonly string[]> = {
  protocol: [],
  observability: [],
  // TLS settings, principals, SASL mechanisms: plain logic over node:crypto and node:tls, importing no layer.
  security: [],
  storage: ['protocol', 'observability'],
  server: ['protocol', 'observability', 'security'],
  cluster: ['storage', 'protocol', 'observability', 'security'],
  coordinator: ['cluster', 'storage', 'protocol', 'observability'],
  config: ['coordinator', 'cluster', 'storage', 'protocol', 'observability', 'security'],
  // The web console's HTTP API and page: reads the broker's services through their lower-layer types, and is
  // handed the changes (the broker's API handlers) by the broker, which wires it to the HTTP listener.
  console: ['config', 'coordinator', 'cluster', 'storage', 'protocol', 'observability'],
  broker: ['console', 'config', 'coordinator', 'cluster', 'server', 'storage', 'protocol', 'observability', 'security'],
  cli: [
    'broker',
    'console',
    'config',
    'coordinator',
    'cluster',
    'server',
    'storage',
    'protocol',
    'observability',
    'security',
  ],
};

/** The library's entry point (src/index.ts) exports from every layer. */
const ENTRY_POINTS = new Set(['index.ts']);

async function sourceFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await sourceFiles(path)));
    else if (/\.c?ts$/.test(entry.name)) files.push(path);
  }
  return files;
}

/** The layer of a path under src/: its first folder. */
function layerOf(pathInSrc: string): string {
  return pathInSrc.split(sep)[0]!;
}

/** Relative module specifiers of `import`/`export ... from` statements and dynamic imports. */
function importedModules(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s+'(\.[^']+)'/g)) out.push(m[1]!);
  for (const m of text.matchAll(/\bimport\(\s*'(\.[^']+)'\s*\)/g)) out.push(m[1]!);
  return out;
}

test('every layer imports only the layers below it (docs/ARCHITECTURE.md)', async () => {
  const violations: string[] = [];
  const layers = new Set<string>();
  for (const file of await sourceFiles(SRC)) {
    const path = relative(SRC, file);
    if (ENTRY_POINTS.has(path)) continue;
    const from = layerOf(path);
    layers.add(from);
    const allowed = MAY_IMPORT[from];
    if (!allowed) {
      violations.push(`${path}: layer ${from} is not in the table (add it where it belongs)`);
      continue;
    }
    for (const specifier of importedModules(await readFile(file, 'utf8'))) {
      const target = relative(SRC, resolve(dirname(file), specifier));
      if (target.startsWith('..')) continue;
      const to = layerOf(target);
      if (to !== from && !allowed.includes(to)) violations.push(`${path} imports ${target} (${from} -> ${to})`);
    }
  }
  assert.deepEqual(violations, []);
  assert.ok(layers.has('storage') && layers.has('broker'), 'the scan found the sources');
});
