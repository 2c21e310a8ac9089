import { execFile } from 'node:child_process';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';
import { withTempDir } from './helpers.js';

const execFileAsync = promisify(execFile);
const FILLER = 'filler';

/** Why tests needing a small disk are skipped, or false when they can run (mounting a tmpfs needs root). */
export const smallDiskUnavailable = process.getuid?.() !== 0 ? 'mounting a small tmpfs needs root' : false;

/**
 * Runs `fn` on a 1 MiB tmpfs mounted for it; skips the test where mounting is not allowed (a container
 * without the capability). Afterwards the disk is freed first, so that a failed test's broker can still stop,
 * then unmounted (lazily if something still holds a file there).
 */
export async function withSmallDisk(t: TestContext, fn: (dir: string) => Promise<void>): Promise<void> {
  await withTempDir(async (dir) => {
    try {
      await execFileAsync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]);
    } catch (e) {
      t.skip(`cannot mount a tmpfs: ${(e as Error).message}`);
      return;
    }
    try {
      await fn(dir);
    } finally {
      await rm(join(dir, FILLER), { force: true });
      await execFileAsync('umount', [dir]).catch(() => execFileAsync('umount', ['-l', dir]));
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
