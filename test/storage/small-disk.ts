import { execFile } from 'node:child_process';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';
import { withTempDir } from './helpers.js';

/** A real disk that fills up, for the tests of full-disk behaviour: a small tmpfs, which only root may mount. */
const run = promisify(execFile);
const FILLER = 'filler';
const NEEDS_ROOT = 'mounting a small tmpfs needs root';

/** Why tests needing a small disk are skipped, or false when they can run. */
export const smallDiskUnavailable = process.getuid?.() !== 0 ? NEEDS_ROOT : false;

/**
 * Mounts a tmpfs of `size` (e.g. '2m') at `dir`. Returns why it cannot (not root, no mount permission in this
 * container) instead of throwing, so that a test can skip saying why.
 */
export async function mountSmallDisk(dir: string, size: string): Promise<string | null> {
  if (smallDiskUnavailable) return smallDiskUnavailable;
  await mkdir(dir, { recursive: true });
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
    return null;
  } catch (e) {
    return `cannot mount a tmpfs here: ${(e as Error).message.trim()}`;
  }
}

/** Gives the disk more room, as an operator freeing space would. */
export async function growSmallDisk(dir: string, size: string): Promise<void> {
  await run('mount', ['-o', `remount,size=${size}`, dir]);
}

/** Unmounts it; lazily when files are still open (a failed test), so that nothing is left mounted. */
export async function unmountSmallDisk(dir: string): Promise<void> {
  try {
    await run('umount', [dir]);
  } catch {
    await run('umount', ['-l', dir]);
  }
}

/** Copies a directory tree (as an operator moving a log dir to a larger disk would). */
export async function copyDir(from: string, to: string): Promise<void> {
  await run('cp', ['-a', from, to]);
}

/**
 * Runs `fn` on a 1 MiB tmpfs mounted for it; skips the test where mounting is not allowed. Afterwards the disk
 * is freed first, so that a failed test's broker can still stop, then unmounted.
 */
export async function withSmallDisk(t: TestContext, fn: (dir: string) => Promise<void>): Promise<void> {
  await withTempDir(async (dir) => {
    const cannot = await mountSmallDisk(dir, '1m');
    if (cannot) {
      t.skip(cannot);
      return;
    }
    try {
      await fn(dir);
    } finally {
      await rm(join(dir, FILLER), { force: true });
      await unmountSmallDisk(dir);
    }
  });
}

/** Fills the file system holding `dir` until a write fails for lack of space; returns the filler's path. */
export async function fillDisk(dir: string): Promise<string> {
  const filler = join(dir, FILLER);
  const file = await open(filler, 'w');
  try {
    const chunk = Buffer.alloc(4096);
    for (;;) await file.write(chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    await file.close();
  }
  return filler;
}
