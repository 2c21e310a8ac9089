import { readdir, readFile } from 'node:fs/promises';
import { dirname, extname, join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import packageRequire from '../protocol/records/package-require.cjs';

/** Where the build puts the page (scripts/build-web.mjs), under the package's root. */
export const WEB_BUILD_DIR = join('dist', 'web');

/** One file of the page, held in memory with its gzip form (the whole page is a few tens of KiB). */
export interface Asset {
  body: Buffer;
  gzipped: Buffer;
  contentType: string;
  /** Hashed names under /assets/ never change their bytes: browsers keep them; index.html is checked each time. */
  immutable: boolean;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};

/** The package's root: two folders above protocol/records in src/ and dist/, three in dist/cjs/. */
function packageRoot(): string | null {
  for (const path of ['../../../package.json', '../../../../package.json']) {
    try {
      const manifest = packageRequire(path) as { name?: string };
      if (manifest.name === 'samsa') return dirname(packageRequire.resolve(path));
    } catch {
      // not at this level
    }
  }
  return null;
}

/**
 * The built page by URL path (`/` and `/assets/<name>`), read once; null when it has not been built (a source
 * checkout before `npm run build`). Only these files are ever served, so no path from a request reaches the disk.
 */
export async function loadAssets(dir = defaultAssetDir()): Promise<Map<string, Asset> | null> {
  if (!dir) return null;
  const assets = new Map<string, Asset>();
  const zip = promisify(gzip);
  const add = async (urlPath: string, file: string, immutable: boolean) => {
    const body = await readFile(file);
    assets.set(urlPath, {
      body,
      gzipped: await zip(body),
      contentType: CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
      immutable,
    });
  };
  try {
    await add('/', join(dir, 'index.html'), false);
    for (const name of await readdir(join(dir, 'assets')))
      await add(`/assets/${name}`, join(dir, 'assets', name), true);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  return assets;
}

function defaultAssetDir(): string | null {
  const root = packageRoot();
  return root && join(root, WEB_BUILD_DIR);
}
