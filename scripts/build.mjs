#!/usr/bin/env node
// Compiles src/ into the package's two builds (see docs/ARCHITECTURE.md, "Toolchain decisions"):
//   dist/      ES modules: the library (`import 'samsa'`) and the `samsa` command;
//   dist/cjs/  CommonJS: the library for require('samsa'), marked as such by its own package.json.
// dist/ is emptied first, so that files of an earlier build (or of removed sources) are never packed.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
rmSync('dist', { recursive: true, force: true });
for (const project of ['tsconfig.build.json', 'tsconfig.cjs.json']) {
  const { status } = spawnSync(process.execPath, [tsc, '-p', project], { stdio: 'inherit' });
  if (status !== 0) process.exit(status ?? 1);
}
mkdirSync('dist/cjs', { recursive: true });
writeFileSync('dist/cjs/package.json', '{ "type": "commonjs" }\n');
