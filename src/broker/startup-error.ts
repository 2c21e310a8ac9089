/**
 * A start-up failure an operator can act on: the message names the setting and the cause, and `samsa server`
 * prints it as one line instead of a stack trace.
 */
export class StartupError extends Error {
  override readonly name = 'StartupError';
}

/** Words for the system errors start-up meets, instead of their codes. */
const CAUSES: Readonly<Record<string, string>> = {
  EADDRINUSE: 'the port is already in use (by another Samsa or Kafka process?)',
  EADDRNOTAVAIL: 'the address is not one of this host',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a part of the path is not a directory',
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EMFILE: 'too many open files (raise the open files limit, ulimit -n)',
  ENOTFOUND: 'unknown host name',
  EEXIST: 'a file is in the way',
  EISDIR: 'a directory is in the way',
};

/** The cause of a system error in words, with its code; the message itself for other errors. */
export function describeCause(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code && CAUSES[code]) return `${CAUSES[code]} (${code})`;
  return (error as Error).message ?? String(error);
}
