import type { FileHandle } from 'node:fs/promises';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import packageRequire from '../protocol/records/package-require.cjs';

// fs-native-extensions is CommonJS with a native binding.
const { tryLock } = packageRequire('fs-native-extensions') as { tryLock(fd: number): boolean };

/** Kafka's lock file in every log dir. */
export const LOCK_FILE = '.lock';

/**
 * Takes the exclusive lock on `<dir>/.lock` (creating the directory), as Kafka does before it touches a log dir.
 * The lock is an open file description lock (an fcntl write lock on other systems): it conflicts with Kafka's
 * own lock and goes with the process, so a broker killed with -9 leaves nothing stale behind. Resolves with the
 * handle that holds it (closing it releases the lock), or null when another process holds it. File system
 * errors (permission denied, not a directory) are thrown as they come.
 */
export async function lockLogDir(dir: string): Promise<FileHandle | null> {
  await mkdir(dir, { recursive: true });
  // 'a' creates the file without truncating it, and opens it for writing, which a write lock needs.
  const handle = await open(join(dir, LOCK_FILE), 'a');
  try {
    if (tryLock(handle.fd)) return handle;
  } catch (e) {
    await handle.close();
    throw e;
  }
  await handle.close();
  return null;
}
