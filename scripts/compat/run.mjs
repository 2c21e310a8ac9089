#!/usr/bin/env node
// Runs other projects' own test suites against Samsa and writes docs/COMPATIBILITY.md.
// Usage: npm run compat [-- [--quick] [--check] [librdkafka] [kafka-python] [kafka-go]]
//   --quick  a bounded subset of each suite
//   --check  compare with docs/compatibility.json instead of rewriting it: exits 1 when a test that passed there
//            does not pass now
//   --tests 0103,0081  only these test numbers of librdkafka's suite (with --check)
//        npm run compat -- --report-only   (rewrites the page from docs/compatibility.json, e.g. after editing
//                                           causes.json)
//
// Two phases. Preparing fetches Debian's packages and source packages and builds the tests under .compat/ (needs
// the network and root for apt). Running starts a Samsa broker per suite and runs the suites side by side; where it
// can (root, unshare), it runs in a network namespace of its own with only loopback, so that kafka-go's fixed
// port 9092 and the other brokers' ports never meet another program's.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { log, REPO, WORK } from './common.mjs';
import * as kafkaGo from './kafka-go.mjs';
import * as kafkaPython from './kafka-python.mjs';
import * as librdkafka from './librdkafka.mjs';
import { writeReport } from './report.mjs';

const SUITES = [librdkafka, kafkaPython, kafkaGo];
// Each suite's first broker port (librdkafka takes one more for its "noautocreate" scenario); kafka-go's is fixed.
const PORTS = { librdkafka: 19092, 'kafka-python': 19192, 'kafka-go': kafkaGo.KAFKA_GO_PORT };
const INSIDE = '--inside-netns';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const check = args.includes('--check');
// --tests N,M: only these test numbers (librdkafka's), with --check, to try a few after a change.
const testsAt = args.indexOf('--tests');
const only = testsAt >= 0 ? args[testsAt + 1]?.split(',') : undefined;
if (only && !check) {
  console.error('--tests runs a part of a suite: give --check too, so that the report is not rewritten from it');
  process.exit(2);
}
const named = args.filter((a, i) => !a.startsWith('--') && i !== testsAt + 1);
const unknown = named.filter((n) => !SUITES.some((s) => s.name === n));
if (unknown.length > 0) {
  console.error(`unknown suite ${unknown.join(', ')}; the suites are ${SUITES.map((s) => s.name).join(', ')}`);
  process.exit(2);
}
const chosen = SUITES.filter((s) => named.length === 0 || named.includes(s.name));

/** Tests that passed in the committed report and do not pass now. */
function findRegressions(suites, previous) {
  const regressions = [];
  for (const suite of suites) {
    const before = new Map((previous.find((p) => p.suite === suite.suite)?.results ?? []).map((r) => [r.name, r]));
    for (const result of suite.results) {
      if (before.get(result.name)?.status === 'passed' && result.status !== 'passed') {
        regressions.push({ suite: suite.suite, ...result });
      }
    }
  }
  return regressions;
}

function canUseNetns() {
  if (process.getuid?.() !== 0) return false;
  return spawnSync('unshare', ['--net', '--', 'true']).status === 0;
}

/** Runs the given suites side by side, each against its own broker; a suite that cannot run answers no results. */
function runEach(suites, logDir) {
  return Promise.all(
    suites.map(async (suite) => {
      const prepared = JSON.parse(readFileSync(join(WORK, `${suite.name}.prepared.json`), 'utf8'));
      try {
        return await suite.run({ prepared, port: PORTS[suite.name], quick, logDir, only });
      } catch (error) {
        log(`${suite.name} did not run: ${error.stack}`);
        return {
          suite: suite.name,
          source: '',
          command: '',
          broker: '',
          results: [],
          notes: [`Did not run: ${error.message}`],
        };
      }
    }),
  );
}

async function runSuites() {
  const startedAt = new Date().toISOString();
  // Each suite overwrites its own logs here, so that a run of one suite leaves another's run alone.
  const logDir = join(WORK, 'logs');
  mkdirSync(logDir, { recursive: true });
  const suites = await runEach(chosen, logDir);
  const previousFile = join(REPO, 'docs/compatibility.json');
  const previous = existsSync(previousFile) ? JSON.parse(readFileSync(previousFile, 'utf8')).suites : [];
  if (check) {
    // --check holds the run against the committed report instead of rewriting it. Some of these tests race the
    // clock (a read deadline against a fetch's wait), so a test counts as regressed only when it fails twice.
    let regressions = findRegressions(suites, previous);
    if (regressions.length > 0) {
      log(`${regressions.length} test(s) no longer pass; running their suites again to tell a regression from chance`);
      const again = await runEach(
        chosen.filter((s) => regressions.some((r) => r.suite === s.name)),
        logDir,
      );
      const stillFailing = new Set(findRegressions(again, previous).map((r) => `${r.suite} ${r.name}`));
      regressions = regressions.filter((r) => stillFailing.has(`${r.suite} ${r.name}`));
    }
    for (const r of regressions) log(`REGRESSION ${r.suite} ${r.name}: ${r.detail}`);
    if (regressions.length > 0) process.exitCode = 1;
  } else {
    // A run of some suites keeps the others' last results; each suite says when it ran, and on which commit.
    const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).stdout.trim();
    for (const suite of suites) Object.assign(suite, { ranAt: startedAt, samsaCommit: commit });
    const all = SUITES.map(
      (s) => suites.find((x) => x.suite === s.name) ?? previous.find((x) => x.suite === s.name),
    ).filter(Boolean);
    writeReport(all, { quick, startedAt, finishedAt: new Date().toISOString(), samsaCommit: commit });
    log('report written to docs/COMPATIBILITY.md and docs/compatibility.json');
  }
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for (const suite of suites) {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    for (const r of suite.results) counts[r.status]++;
    log(`${suite.suite}: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
    passed += counts.passed;
    failed += counts.failed;
    skipped += counts.skipped;
  }
  // Failures are the report's content, not a failure of the run: the exit code says only whether it ran (and,
  // with --check, whether anything regressed). The line is worded so that no CI takes it for a test runner's verdict.
  console.log(`compat: ${passed} tests passed, ${failed} failed, ${skipped} skipped`);
}

if (args.includes('--report-only')) {
  const last = JSON.parse(readFileSync(join(REPO, 'docs/compatibility.json'), 'utf8'));
  writeReport(last.suites, last);
  log('report rewritten from docs/compatibility.json');
} else if (args.includes(INSIDE)) {
  spawnSync('ip', ['link', 'set', 'lo', 'up'], { stdio: 'inherit' });
  await runSuites();
} else {
  mkdirSync(WORK, { recursive: true });
  for (const suite of chosen) {
    log(`preparing ${suite.name}`);
    const prepared = await suite.prepare();
    writeFileSync(join(WORK, `${suite.name}.prepared.json`), JSON.stringify(prepared));
  }
  if (canUseNetns()) {
    log('running in a network namespace of its own (loopback only)');
    const result = spawnSync('unshare', ['--net', '--', process.execPath, import.meta.filename, ...args, INSIDE], {
      stdio: 'inherit',
    });
    process.exit(result.status ?? 1);
  }
  await runSuites();
}
