// The fault probes at full length: `npm run chaos [-- options]` (scripts/chaos.mjs runs this file with tsx).
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  type CaseResult,
  DAMAGES,
  type Damage,
  runDamageMatrix,
  STOP_MODES,
  type StopMode,
  TARGETS,
  type Target,
} from './damaged-files.js';
import { diskFullUnavailable, runDiskFull } from './disk-full.js';
import { chooseSeed, fastTempRoot, printFigures } from './harness.js';
import { runKillLoop } from './kill-loop.js';
import { runLeaderKillLoop } from './leader-kill-loop.js';
import { runProtocolFuzzer } from './protocol-fuzzer.js';

const USAGE = `usage: npm run chaos -- [options]
  --probe kill|leader|damage|disk|fuzz
                                  run one probe (repeatable; all of them by default)
  --seed N                        the random seed (printed by every probe; CHAOS_SEED works too)
  --cycles N                      kill -9 loops: kills and restarts (default 20)
  --partitions N                  kill -9 loops: partitions written (default 4)
  --mode clean|kill               damaged-file matrix: only cases after this kind of stop
  --target NAME                   damaged-file matrix: only this file (repeatable): ${TARGETS.join(', ')}
  --damage NAME                   damaged-file matrix: only this damage (repeatable): ${DAMAGES.join(', ')}
  --seconds N                     protocol fuzzer: how long to fuzz (default 60)
  --connections N                 protocol fuzzer: concurrent fuzzing connections (default 32)`;

const PROBES = ['kill', 'leader', 'damage', 'disk', 'fuzz'] as const;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      probe: { type: 'string', multiple: true },
      seed: { type: 'string' },
      cycles: { type: 'string', default: '20' },
      partitions: { type: 'string', default: '4' },
      mode: { type: 'string', multiple: true },
      target: { type: 'string', multiple: true },
      damage: { type: 'string', multiple: true },
      seconds: { type: 'string', default: '60' },
      connections: { type: 'string', default: '32' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const probes = values.probe ?? [...PROBES];
  for (const p of probes)
    if (!(PROBES as readonly string[]).includes(p)) throw new Error(`unknown probe ${p}\n${USAGE}`);
  const seed = values.seed !== undefined ? Number(values.seed) >>> 0 : chooseSeed();
  let failed = false;

  if (probes.includes('kill')) {
    const r = await runKillLoop({ cycles: Number(values.cycles), seed, partitions: Number(values.partitions) });
    const problems = [...r.lost, ...r.duplicated, ...r.outOfOrder, ...r.holes, ...r.producerErrors];
    for (const p of problems.slice(0, 20)) console.log(`  ${p}`);
    if (problems.length > 0 || r.acknowledged === 0) failed = true;
  }

  if (probes.includes('leader')) {
    const r = await runLeaderKillLoop({ cycles: Number(values.cycles), seed, partitions: Number(values.partitions) });
    const problems = [
      ...r.lost,
      ...r.duplicated,
      ...r.outOfOrder,
      ...r.holes,
      ...r.divergentReplicas,
      ...r.producerErrors,
    ];
    for (const p of problems.slice(0, 20)) console.log(`  ${p}`);
    if (problems.length > 0 || r.acknowledged === 0) failed = true;
  }

  if (probes.includes('damage')) {
    const workDir = await mkdtemp(join(await fastTempRoot(), 'samsa-chaos-damage-'));
    try {
      const results: CaseResult[] = [];
      const started = Date.now();
      await runDamageMatrix({
        seed,
        workDir,
        modes: (values.mode as StopMode[] | undefined) ?? STOP_MODES,
        targets: (values.target as Target[] | undefined) ?? TARGETS,
        damages: (values.damage as Damage[] | undefined) ?? DAMAGES,
        onResult: (r) => {
          results.push(r);
          const verdict = r.problems.length === 0 ? 'ok  ' : 'FAIL';
          console.log(`${verdict} ${r.name}: ${r.outcome}${r.problems.length ? `: ${r.problems.join('; ')}` : ''}`);
          if (r.problems.length > 0 && r.outcome === 'refused')
            console.log(`     refusal: ${r.message.split('\n')[0]}`);
        },
      });
      const failing = results.filter((r) => r.problems.length > 0);
      printFigures('damaged-files', {
        seed,
        cases: results.length,
        acceptable: results.length - failing.length,
        failing: failing.length,
        refusedToStart: results.filter((r) => r.outcome === 'refused').length,
        seconds: Math.round((Date.now() - started) / 1000),
      });
      if (failing.length > 0) failed = true;
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  }

  if (probes.includes('disk')) {
    const unavailable = diskFullUnavailable();
    if (unavailable) {
      console.log(`chaos disk-full: skipped: ${unavailable}`);
    } else {
      const r = await runDiskFull();
      for (const e of r.refusalErrors) console.log(`  refused with: ${e}`);
      for (const p of [...r.unservedWhileFull, ...r.lost].slice(0, 20)) console.log(`  ${p}`);
      if (r.acknowledged === 0 || r.refused === 0 || r.unservedWhileFull.length > 0 || r.lost.length > 0) failed = true;
    }
  }

  if (probes.includes('fuzz')) {
    const r = await runProtocolFuzzer({
      seed,
      seconds: Number(values.seconds),
      connections: Number(values.connections),
    });
    for (const p of r.problems) console.log(`  ${p}`);
    if (r.stopHung) console.log(`  ${r.stopHung}`);
    if (r.problems.length > 0 || r.stopHung || r.goodAcknowledged === 0) failed = true;
  }

  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(2);
  },
);
