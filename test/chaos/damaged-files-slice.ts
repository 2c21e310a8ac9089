import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type CaseResult, caseName, type Damage, runDamageMatrix, type StopMode, TARGETS } from './damaged-files.js';
import { fastTempRoot } from './harness.js';

/**
 * The damaged-file matrix's cases that fail on the current broker, with the defect behind them. They are left
 * out of the `npm test` slices (not skipped: the slice lists what passes) until the fixes land; remove an entry
 * once its case passes (`npm run chaos -- --probe damage --seed 1` prints every case's verdict).
 */
export const FAILING_UNTIL_FIXED: Record<string, string> = {};

/** The seed of the garbage bytes in `npm test`, so that the slice is the same every run. */
const SLICE_SEED = 1;

/** Runs the slice's cases that pass today, and asserts each outcome acceptable. */
export async function runSlice(mode: StopMode, damages: readonly Damage[]): Promise<void> {
  const cases: string[] = [];
  for (const target of TARGETS)
    for (const damage of damages) {
      const name = caseName({ mode, target, damage });
      if (!(name in FAILING_UNTIL_FIXED)) cases.push(name);
    }
  const workDir = await mkdtemp(join(await fastTempRoot(), 'samsa-chaos-damage-'));
  let results: CaseResult[];
  try {
    results = await runDamageMatrix({ seed: SLICE_SEED, workDir, modes: [mode], damages, cases });
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
  assert.equal(results.length, cases.length);
  const failing = results.filter((r) => r.problems.length > 0).map((r) => `${r.name}: ${r.problems.join('; ')}`);
  assert.deepEqual(failing, [], 'every damaged file is survived or refused by name');
}
