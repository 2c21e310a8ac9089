import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { test } from 'node:test';

const SRC = join(import.meta.dirname, '..', '..', 'src');
/** Imports of the modules that load every generated message module: for clients, tools and tests. */
const WHOLE_PROTOCOL = /import (type )?[^;]*? from '[^']*protocol\/generated\/(index|api-table)\.js'/g;
/** The command-line tools speak every API as clients, and are loaded only when one of them runs. */
const TOOLS = join('cli', 'tools');

async function sourceFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await sourceFiles(path)));
    else if (entry.name.endsWith('.ts')) files.push(path);
  }
  return files;
}

// The codecs of ~190 message modules cost about 5 MB of the broker's idle memory when all are loaded; the broker
// loads those of the APIs it implements, one module per API under protocol/generated/apis/.
test('the broker imports the codecs of single APIs, never the whole generated protocol', async () => {
  const offenders: string[] = [];
  for (const file of await sourceFiles(SRC)) {
    const path = relative(SRC, file);
    if (path.startsWith(join('protocol', 'generated')) || path.startsWith(TOOLS)) continue;
    const text = await readFile(file, 'utf8');
    // Type-only imports are erased at compile time and load nothing.
    const valueImports = [...text.matchAll(WHOLE_PROTOCOL)].filter((m) => m[1] === undefined);
    if (valueImports.length > 0) offenders.push(path);
  }
  assert.deepEqual(offenders, []);
});
