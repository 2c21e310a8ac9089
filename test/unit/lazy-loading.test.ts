import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'processes', 'loaded-packages.ts');

/** The npm packages and Node.js built-ins (`node:name`) a fresh process has loaded after starting a broker. */
async function loadedPackages(...args: string[]): Promise<string[]> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', FIXTURE, ...args], { timeout: 60_000 });
  return JSON.parse(stdout) as string[];
}

// Each of these costs a small broker's memory (prom-client with its dependencies up to 12 MB, node:tls and
// node:http 1-2 MB), so the broker loads it only when a feature needs it: the codecs on the first batch in their
// format, node:tls for an SSL listener, node:http and prom-client for samsa.http.listener, the tools' client
// library never.
const LOADED_ON_DEMAND = [
  'prom-client',
  'lz4-napi',
  'snappy',
  '@bokuweb/zstd-wasm',
  '@platformatic/kafka',
  'node:tls',
  'node:http',
];

test('a started broker has loaded none of the packages it loads on demand', async () => {
  const loaded = await loadedPackages();
  assert.deepEqual(
    LOADED_ON_DEMAND.filter((p) => loaded.includes(p)),
    [],
  );
});

test('the first scrape of samsa.http.listener loads node:http and prom-client', async () => {
  const loaded = await loadedPackages('http');
  assert.ok(loaded.includes('prom-client'), `loaded: ${loaded.join(', ')}`);
  assert.ok(loaded.includes('node:http'), `loaded: ${loaded.join(', ')}`);
});
