import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '../observability/logger.js';

const run = promisify(execFile);

/** Files a segment may hold open: its log, offset index and time index. */
const FILES_PER_SEGMENT = 3;
/** The share of the open files limit that the segments may take before start-up warns. */
const NEAR_LIMIT_SHARE = 0.8;

/** The soft and hard open files limits of this process, from util-linux's prlimit; null where it is missing. */
async function openFilesLimits(): Promise<{ soft: number; hard: number } | null> {
  try {
    const { stdout } = await run('prlimit', [
      '--pid',
      String(process.pid),
      '--nofile',
      '--output=SOFT,HARD',
      '--noheadings',
    ]);
    const [soft, hard] = stdout
      .trim()
      .split(/\s+/)
      .map((x) => (x === 'unlimited' ? Number.POSITIVE_INFINITY : Number(x)));
    if (soft === undefined || hard === undefined || Number.isNaN(soft) || Number.isNaN(hard)) return null;
    return { soft, hard };
  } catch {
    return null;
  }
}

/** The segment files (`*.log`) in the partition directories of the log dirs. */
async function countSegments(logDirs: string[]): Promise<number> {
  let segments = 0;
  for (const dir of logDirs) {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      const files = await readdir(join(dir, entry.name)).catch(() => []);
      for (const file of files) if (file.endsWith('.log')) segments++;
    }
  }
  return segments;
}

/**
 * Raises the soft open files limit to the hard limit, as Kafka's packaging advises (every segment and
 * connection holds files), and says at start-up what is in force. Node has no setrlimit, so this asks
 * util-linux's prlimit to do it; where prlimit is missing it does nothing. Warns when the segments in the log
 * dirs alone would come near the limit.
 */
export async function raiseOpenFilesLimit(logger: Logger, logDirs: string[]): Promise<void> {
  let limits = await openFilesLimits();
  if (!limits) return;
  if (limits.soft < limits.hard) {
    const hard = Number.isFinite(limits.hard) ? String(limits.hard) : 'unlimited';
    await run('prlimit', ['--pid', String(process.pid), `--nofile=${hard}:${hard}`]).catch(() => {});
    limits = (await openFilesLimits()) ?? limits;
  }
  logger.info('open files limit', { limit: limits.soft, hard: limits.hard });
  const segments = await countSegments(logDirs);
  if (segments * FILES_PER_SEGMENT >= limits.soft * NEAR_LIMIT_SHARE) {
    logger.warn('the open files limit is near what the segments in the log dirs need', {
      segments,
      files: segments * FILES_PER_SEGMENT,
      limit: limits.soft,
      advice: `raise the hard limit on open files above ${Math.ceil((segments * FILES_PER_SEGMENT) / NEAR_LIMIT_SHARE)} (ulimit -Hn, LimitNOFILE in a systemd unit, --ulimit nofile in Docker)`,
    });
  }
}
