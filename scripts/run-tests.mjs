#!/usr/bin/env node
// Runs every test file under test/ with node's built-in runner and the tsx loader, several files at a time.
// Node 20's runner does not expand globs or pick up .ts files by itself, hence this list. Each file runs in its own
// process (as `node --test` does); most of a file's time is spent waiting on brokers, etcd and client processes,
// so files run side by side and each one's output is printed whole when it ends, never interleaved.
// Usage: npm test [-- <path filter> ...]     SAMSA_TEST_CONCURRENCY=N sets how many files run at once.
import { spawn } from 'node:child_process';
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

// A hung file fails after this long instead of stalling the run. Node 20's `--test-timeout`, given with `--test
// <file>`, bounds the file's whole run, not each test in it: a file of several cluster tests took 120 s on a loaded
// machine and was cancelled whole when this was 2 minutes. The slowest file takes 45-85 s alone.
const FILE_TEST_TIMEOUT_MS = 6 * 60_000;
// A file whose process is still running after this long is killed (a hang outside any test, e.g. a leaked handle).
const FILE_TIMEOUT_MS = 15 * 60_000;
// Files at once. Measured on a 2-core machine: the suite's wall time falls from about 15 to about N minutes with 3
// (see docs/ARCHITECTURE.md, "Testing"); more starves the files that run brokers as processes.
const DEFAULT_CONCURRENCY = 3;
// The longest files start first so that the run does not end waiting on one of them (directories in this order,
// files in name order within each).
const LONG_FIRST = ['test/cluster/', 'test/chaos/', 'test/console/', 'test/integration/'];

const filters = process.argv.slice(2);
const files = collect('test', []).filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const rank = (f) => {
  const i = LONG_FIRST.findIndex((d) => f.startsWith(d));
  return i === -1 ? LONG_FIRST.length : i;
};
files.sort((a, b) => rank(a) - rank(b));

const concurrency = Math.max(1, Number(process.env.SAMSA_TEST_CONCURRENCY) || DEFAULT_CONCURRENCY);
const totals = { tests: 0, pass: 0, fail: 0, skipped: 0, todo: 0, cancelled: 0 };
const durations = [];
const failed = [];
/** The output of each failed file, printed again after the run: a CI log may keep only its beginning and end. */
const failedOutputs = [];
// Of a failed file's output, this many lines from its end are printed again (the failures and the summary).
const FAILED_TAIL_LINES = 150;
const started = Date.now();
const running = new Set();
// Each file runs in a process group of its own (so that a hung one is killed with the brokers it started): pass an
// interrupt on to all of them.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const child of running) {
      try {
        process.kill(-child.pid, signal);
      } catch {}
    }
    process.exit(130);
  });
}

/** Runs one file; resolves when its process has ended and its output is printed. */
function runFile(file) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--test', '--test-reporter=spec', `--test-timeout=${FILE_TEST_TIMEOUT_MS}`, file],
      { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    running.add(child);
    const chunks = [];
    child.stdout.on('data', (c) => chunks.push(c));
    child.stderr.on('data', (c) => chunks.push(c));
    const killer = setTimeout(() => {
      chunks.push(Buffer.from(`\n${file}: still running after ${FILE_TIMEOUT_MS / 60_000} minutes, killed\n`));
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
    }, FILE_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      running.delete(child);
      const output = Buffer.concat(chunks).toString();
      const seconds = (Date.now() - t0) / 1000;
      durations.push([file, seconds]);
      for (const key of Object.keys(totals)) {
        const m = output.match(new RegExp(`^ℹ ${key} (\\d+)$`, 'm'));
        if (m) totals[key] += Number(m[1]);
      }
      const ok = code === 0;
      if (!ok) {
        failed.push(file);
        failedOutputs.push([file, output.split('\n').slice(-FAILED_TAIL_LINES).join('\n')]);
      }
      process.stdout.write(
        `\n▶ ${file} (${seconds.toFixed(1)} s${ok ? '' : `, FAILED: ${signal ?? `exit ${code}`}`})\n`,
      );
      process.stdout.write(output);
      resolve();
    });
  });
}

const queue = [...files];
async function worker() {
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) await runFile(file);
}
await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));

for (const [file, tail] of failedOutputs) process.stdout.write(`\n✖ ${file}, the end of its output again:\n${tail}\n`);

durations.sort((a, b) => b[1] - a[1]);
const wall = (Date.now() - started) / 1000;
const sum = durations.reduce((s, [, d]) => s + d, 0);
console.log(
  `\n== ${files.length} files, ${concurrency} at a time: ${wall.toFixed(0)} s (${sum.toFixed(0)} s of file time)`,
);
console.log(
  `   slowest: ${durations
    .slice(0, 8)
    .map(([f, d]) => `${f} ${d.toFixed(0)} s`)
    .join(', ')}`,
);
console.log(
  `   tests ${totals.tests}, pass ${totals.pass}, fail ${totals.fail}, skipped ${totals.skipped}, todo ${totals.todo}, cancelled ${totals.cancelled}`,
);
if (failed.length > 0) console.log(`   failed files: ${failed.join(' ')}`);
process.exit(failed.length > 0 ? 1 : 0);
