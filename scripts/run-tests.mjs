#!/usr/bin/env node
// Runs every test file under test/ with node's built-in runner and the tsx loader.
// Node 20's runner does not expand globs or pick up .ts files by itself, hence this list.
// Usage: npm test [-- <path filter> ...]
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function collect(dir, out) {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collect(path, out);
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = collect('test', []).filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// A hung test fails after this long instead of stalling the run.
const TEST_TIMEOUT_MS = 120_000;
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', `--test-timeout=${TEST_TIMEOUT_MS}`, ...files],
  {
    stdio: 'inherit',
  },
);
process.exit(result.status ?? 1);
