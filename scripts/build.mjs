#!/usr/bin/env node
// Compiles src/ into the package's two builds (see docs/ARCHITECTURE.md, "Toolchain decisions"):
//   dist/      ES modules: the library (`import 'samsa'`) and the `samsa` command;
//   dist/cjs/  CommonJS: the library for require('samsa'), marked as such by its own package.json.
// dist/ is emptied first, so that files of an earlier build (or of removed sources) are never packed. The two
// compilations are independent and run side by side.
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
rmSync('dist', { recursive: true, force: true });
const codes = await Promise.all(
  ['tsconfig.build.json', 'tsconfig.cjs.json'].map(
    (project) =>
      new Promise((resolve) =>
        spawn(process.execPath, [tsc, '-p', project], { stdio: 'inherit' }).on('exit', (code) => resolve(code ?? 1)),
      ),
  ),
);
if (codes.some((code) => code !== 0)) process.exit(1);
mkdirSync('dist/cjs', { recursive: true });
writeFileSync('dist/cjs/package.json', '{ "type": "commonjs" }\n');
// The web console's page, after the compilers (the emptied dist/ would remove it).
const { buildWeb } = await import('./build-web.mjs');
await buildWeb();
