import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Mounts a tmpfs of `size` (e.g. '2m') at `dir`: a real disk that fills up. Returns why it cannot (not root,
 * no mount permission in this container) instead of throwing, so that a test can skip saying why.
 */
export async function mountSmallDisk(dir: string, size: string): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'mounting a small tmpfs needs root';
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
