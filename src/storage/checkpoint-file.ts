import { open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Version line of Kafka's offset checkpoint files. */
const CHECKPOINT_VERSION = 0;

/**
 * Writes a file atomically: a temporary file is written whole and fsynced, then renamed over the target and the
 * directory fsynced, so a crash leaves either the old or the new content. A failed write (a full disk) leaves
 * the old file and no temporary one.
 */
export async function writeFileAtomic(path: string, content: string): Promise<void> {
  const tmp = `${path}.tmp`;
  try {
    const file = await open(tmp, 'w');
    try {
      // writeFile continues short writes until every byte is written, or throws.
      await file.writeFile(content);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true }).catch(() => {});
    throw error;
  }
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Key of a partition in checkpoint maps: `topic-partition`, as Kafka names partition directories. */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

/**
 * Kafka's offset checkpoint files (recovery-point-offset-checkpoint, log-start-offset-checkpoint,
 * replication-offset-checkpoint): a version line, a count line, then `topic partition offset` per line.
 */
export async function readOffsetCheckpoint(path: string): Promise<Map<string, number>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw e;
  }
  const lines = text.split('\n').filter((l) => l.length > 0);
  const result = new Map<string, number>();
  if (lines.length < 2 || Number(lines[0]) !== CHECKPOINT_VERSION) {
    throw new Error(`${path}: not an offset checkpoint file of version ${CHECKPOINT_VERSION}`);
  }
  const count = Number(lines[1]);
  if (!Number.isInteger(count) || count !== lines.length - 2) throw new Error(`${path}: expected ${count} entries`);
  for (const line of lines.slice(2)) {
    const parts = line.split(' ');
    const offset = Number(parts.pop());
    const partition = Number(parts.pop());
    const topic = parts.join(' ');
    if (!topic || !Number.isInteger(partition) || !Number.isInteger(offset))
      throw new Error(`${path}: bad line '${line}'`);
    result.set(partitionKey(topic, partition), offset);
  }
  return result;
}

export async function writeOffsetCheckpoint(
  path: string,
  entries: Iterable<{ topic: string; partition: number; offset: number }>,
): Promise<void> {
  const lines: string[] = [];
  for (const e of entries) lines.push(`${e.topic} ${e.partition} ${e.offset}`);
  await writeFileAtomic(path, `${CHECKPOINT_VERSION}\n${lines.length}\n${lines.map((l) => `${l}\n`).join('')}`);
}

/** Parses `key=value` lines (meta.properties, partition.metadata use `key: value`). */
export function parseSimpleProperties(text: string, separator: '=' | ':'): Map<string, string> {
  const result = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const at = line.indexOf(separator);
    if (at > 0) result.set(line.slice(0, at).trim(), line.slice(at + 1).trim());
  }
  return result;
}
