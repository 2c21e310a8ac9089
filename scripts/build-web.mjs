#!/usr/bin/env node
// Builds the web console's page (web/) into dist/web/: the script bundled and minified by esbuild, the style
// sheet minified, each named after a hash of its bytes under dist/web/assets/ so that browsers may keep them for
// good, and index.html pointing at them (served with no-cache). The broker serves these files (src/console/).
// Run by scripts/build.mjs after the TypeScript builds; on its own: node scripts/build-web.mjs [outDir].
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Builds the page into `outDir` (default dist/web); returns the names of the hashed assets. */
export async function buildWeb(outDir = join(root, 'dist', 'web')) {
  const esbuild = await import('esbuild');
  const [js, css] = await Promise.all([
    esbuild.build({
      entryPoints: [join(root, 'web', 'src', 'main.ts')],
      bundle: true,
      minify: true,
      format: 'esm',
      target: ['es2022'],
      write: false,
      logLevel: 'warning',
    }),
    esbuild.build({
      entryPoints: [join(root, 'web', 'style.css')],
      bundle: true,
      minify: true,
      write: false,
      logLevel: 'warning',
    }),
  ]);
  const hashed = (ext, bytes) => `app-${createHash('sha256').update(bytes).digest('hex').slice(0, 12)}.${ext}`;
  const jsBytes = js.outputFiles[0].contents;
  const cssBytes = css.outputFiles[0].contents;
  const names = { js: hashed('js', jsBytes), css: hashed('css', cssBytes) };
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(join(outDir, 'assets'), { recursive: true });
  writeFileSync(join(outDir, 'assets', names.js), jsBytes);
  writeFileSync(join(outDir, 'assets', names.css), cssBytes);
  const html = readFileSync(join(root, 'web', 'index.html'), 'utf8')
    .replace('{{js}}', names.js)
    .replace('{{css}}', names.css);
  writeFileSync(join(outDir, 'index.html'), html);
  return names;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await buildWeb(process.argv[2]);
