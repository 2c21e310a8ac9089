#!/usr/bin/env node
// `npm run chaos [-- options]`: the fault probes of test/chaos/ at full length (npm test runs short slices of
// each). Runs test/chaos/main.ts with the tsx loader; `--help` lists the options.
import { spawnSync } from 'node:child_process';

const result = spawnSync(process.execPath, ['--import', 'tsx', 'test/chaos/main.ts', ...process.argv.slice(2)], {
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
