import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  parseSimpleProperties,
  partitionKey,
  readOffsetCheckpoint,
  writeFileAtomic,
  writeOffsetCheckpoint,
} from './checkpoint-file.js';
import { RecoveryProgress, type StorageLogger, silentStorageLogger } from './log-recovery.js';
import { DEFAULT_PRODUCER_ID_EXPIRATION_MS, type LogConfig, PartitionLog } from './partition-log.js';
import { TailCacheBudget } from './tail-cache.js';

/** Kafka's file names in a log directory. */
export const CLEAN_SHUTDOWN_FILE = '.kafka_cleanshutdown';
export const RECOVERY_POINT_CHECKPOINT_FILE = 'recovery-point-offset-checkpoint';
export const LOG_START_OFFSET_CHECKPOINT_FILE = 'log-start-offset-checkpoint';
/** The log cleaner's progress per compacted partition: offsets below it are clean (Kafka's file). */
export const CLEANER_OFFSET_CHECKPOINT_FILE = 'cleaner-offset-checkpoint';
export const REPLICATION_OFFSET_CHECKPOINT_FILE = 'replication-offset-checkpoint';
export const META_PROPERTIES_FILE = 'meta.properties';
export const PARTITION_METADATA_FILE = 'partition.metadata';
/** Suffix of a partition directory whose topic was deleted and whose files are being removed. */
const DELETE_DIR_SUFFIX = '-delete';

export interface LogManagerOptions {
  logDirs: string[];
  /** The effective log config of a topic (its overrides over the broker defaults). */
  configFor: (topic: string) => LogConfig;
  /** Memory shared by all logs for their recent batches (samsa.log.tail.cache.bytes); 0 keeps none. */
  tailCacheBytes?: number;
  /** producer.id.expiration.ms. */
  producerIdExpirationMs?: number;
  now?: () => number;
  /** Where recovery, truncations and partitions going offline are told. */
  logger?: StorageLogger;
}

export interface MetaProperties {
  clusterId: string;
  nodeId: number;
}

/** `<topic>-<partition>` directory names; topics may contain '-', the partition is after the last one. */
export function parsePartitionDir(name: string): { topic: string; partition: number } | null {
  const at = name.lastIndexOf('-');
  if (at <= 0) return null;
  const partition = Number(name.slice(at + 1));
  if (!Number.isInteger(partition) || partition < 0 || String(partition) !== name.slice(at + 1)) return null;
  return { topic: name.slice(0, at), partition };
}

/**
 * All partition logs of this broker, across its log directories (Kafka's LogManager): loading and
 * recovery at start-up, creation and deletion, the offset checkpoint files, and the clean shutdown marker
 * that lets the next start skip recovery.
 */
export class LogManager {
  private readonly logs = new Map<string, PartitionLog>();
  /** Which log dir holds each partition. */
  private readonly dirOf = new Map<string, string>();
  private readonly now: () => number;
  /** Whether the previous run of each log dir ended with a clean shutdown. */
  readonly hadCleanShutdown = new Map<string, boolean>();

  private readonly tailCache: TailCacheBudget | undefined;
  private readonly logger: StorageLogger;

  constructor(private readonly options: LogManagerOptions) {
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? silentStorageLogger;
    if (options.tailCacheBytes) this.tailCache = new TailCacheBudget(options.tailCacheBytes);
  }

  /** Opens every log. Recovery runs where the previous run did not shut down cleanly. */
  async startup(): Promise<void> {
    for (const dir of this.options.logDirs) {
      await mkdir(dir, { recursive: true });
      const marker = join(dir, CLEAN_SHUTDOWN_FILE);
      const clean = await exists(marker);
      this.hadCleanShutdown.set(dir, clean);
      const recoveryPoints = await readOffsetCheckpoint(join(dir, RECOVERY_POINT_CHECKPOINT_FILE));
      const logStartOffsets = await readOffsetCheckpoint(join(dir, LOG_START_OFFSET_CHECKPOINT_FILE));
      const cleanerOffsets = await readOffsetCheckpoint(join(dir, CLEANER_OFFSET_CHECKPOINT_FILE));
      const names = (await readdir(dir)).sort();
      const recovery = new RecoveryProgress(
        this.logger,
        dir,
        names.filter((n) => parsePartitionDir(n)).length,
        !clean,
        this.now,
      );
      for (const name of names) {
        const path = join(dir, name);
        if (name.endsWith(DELETE_DIR_SUFFIX)) {
          await rm(path, { recursive: true, force: true });
          continue;
        }
        const tp = parsePartitionDir(name);
        if (!tp || !(await stat(path)).isDirectory()) continue;
        const key = partitionKey(tp.topic, tp.partition);
        const log = await PartitionLog.open({
          dir: path,
          topic: tp.topic,
          partition: tp.partition,
          config: this.options.configFor(tp.topic),
          recoveryPoint: recoveryPoints.get(key) ?? 0,
          logStartOffset: logStartOffsets.get(key) ?? 0,
          cleanShutdown: clean,
          now: this.now,
          tailCache: this.tailCache,
          producerIdExpirationMs: this.options.producerIdExpirationMs,
          logger: this.logger,
          recovery,
        });
        // As in Kafka, a cleaner offset outside the log (truncated, or the topic deleted and created again) is
        // forgotten: the log counts as dirty from its start.
        const cleaned = cleanerOffsets.get(key);
        if (cleaned !== undefined && cleaned >= log.logStartOffset && cleaned <= log.logEndOffset) {
          log.firstDirtyOffset = cleaned;
        }
        this.logs.set(key, log);
        this.dirOf.set(key, dir);
      }
      recovery.finish();
      // From now on a crash must be detected at the next start.
      await rm(marker, { force: true });
    }
  }

  /** Re-reads the config of every log of a topic, after its overrides changed. */
  refreshConfig(topic: string): void {
    const config = this.options.configFor(topic);
    for (const log of this.logs.values()) if (log.topic === topic) log.config = config;
  }

  getLog(topic: string, partition: number): PartitionLog | undefined {
    return this.logs.get(partitionKey(topic, partition));
  }

  allLogs(): IterableIterator<PartitionLog> {
    return this.logs.values();
  }

  /** Creates the log of a new partition in the log dir holding the fewest partitions. */
  async createLog(topic: string, partition: number, topicId: string): Promise<PartitionLog> {
    const key = partitionKey(topic, partition);
    const existing = this.logs.get(key);
    if (existing) return existing;
    const dir = this.leastLoadedDir();
    const path = join(dir, key);
    await mkdir(path, { recursive: true });
    await writeFileAtomic(join(path, PARTITION_METADATA_FILE), `version: 0\ntopic_id: ${topicId}\n`);
    const log = await PartitionLog.open({
      dir: path,
      topic,
      partition,
      config: this.options.configFor(topic),
      cleanShutdown: true,
      now: this.now,
      tailCache: this.tailCache,
      producerIdExpirationMs: this.options.producerIdExpirationMs,
      logger: this.logger,
    });
    this.logs.set(key, log);
    this.dirOf.set(key, dir);
    return log;
  }

  /** The topic id recorded beside a partition's log, if any. */
  async topicIdOf(topic: string, partition: number): Promise<string | undefined> {
    const log = this.getLog(topic, partition);
    if (!log) return undefined;
    try {
      return parseSimpleProperties(await readFile(join(log.dir, PARTITION_METADATA_FILE), 'utf8'), ':').get('topic_id');
    } catch {
      return undefined;
    }
  }

  /** Deletes a partition's log: the directory is renamed Kafka's way first, so a crash finishes the job at start-up. */
  async deleteLog(topic: string, partition: number): Promise<void> {
    const key = partitionKey(topic, partition);
    const log = this.logs.get(key);
    if (!log) return;
    this.logs.delete(key);
    this.dirOf.delete(key);
    await log.close();
    const doomed = `${log.dir}.${randomUUID().replaceAll('-', '')}${DELETE_DIR_SUFFIX}`;
    await rename(log.dir, doomed);
    await rm(doomed, { recursive: true, force: true });
  }

  /** Applies retention to every log; returns the number of segments deleted. */
  async runRetention(): Promise<number> {
    let deleted = 0;
    for (const log of this.logs.values()) deleted += await log.deleteOldSegments();
    if (deleted > 0) await this.checkpointLogStartOffsets();
    return deleted;
  }

  /** Forgets, in every log, the producers idle for longer than producer.id.expiration.ms. */
  removeExpiredProducers(): void {
    const expirationMs = this.options.producerIdExpirationMs ?? DEFAULT_PRODUCER_ID_EXPIRATION_MS;
    const nowMs = this.now();
    for (const log of this.logs.values()) log.producerState.removeExpired(nowMs, expirationMs);
  }

  /** Writes the recovery point, log start offset and cleaner offset checkpoints of every log dir. */
  async checkpoint(): Promise<void> {
    await this.checkpointFile(RECOVERY_POINT_CHECKPOINT_FILE, (log) => log.recoveryPoint);
    await this.checkpointLogStartOffsets();
    await this.checkpointFile(REPLICATION_OFFSET_CHECKPOINT_FILE, (log) => log.highWatermark);
    await this.checkpointCleanerOffsets();
  }

  /** Writes how far the cleaner got in each compacted log (after a cleaning pass, and with the others). */
  checkpointCleanerOffsets(): Promise<void> {
    return this.checkpointFile(
      CLEANER_OFFSET_CHECKPOINT_FILE,
      (log) => log.firstDirtyOffset,
      (log) => log.config.compact === true,
    );
  }

  /** The logs of each log dir, every configured dir present (DescribeLogDirs). */
  logsByDir(): Map<string, PartitionLog[]> {
    const byDir = new Map<string, PartitionLog[]>(this.options.logDirs.map((d) => [d, []]));
    for (const [key, log] of this.logs) byDir.get(this.dirOf.get(key)!)?.push(log);
    return byDir;
  }

  /** Writes the log start offsets now (after DeleteRecords moved one), rather than at the next interval. */
  checkpointLogStartOffsets(): Promise<void> {
    return this.checkpointFile(LOG_START_OFFSET_CHECKPOINT_FILE, (log) => log.logStartOffset);
  }

  /** Checkpoint writes share one temporary file per checkpoint, so they run one at a time. */
  private checkpointWrites: Promise<void> = Promise.resolve();

  private checkpointFile(
    name: string,
    value: (log: PartitionLog) => number,
    include: (log: PartitionLog) => boolean = () => true,
  ): Promise<void> {
    const write = this.checkpointWrites.then(() => this.writeCheckpointFile(name, value, include));
    this.checkpointWrites = write.catch(() => {});
    return write;
  }

  private async writeCheckpointFile(
    name: string,
    value: (log: PartitionLog) => number,
    include: (log: PartitionLog) => boolean,
  ): Promise<void> {
    for (const [dir, logs] of this.logsByDir()) {
      const entries = logs
        .filter(include)
        .map((log) => ({ topic: log.topic, partition: log.partition, offset: value(log) }));
      await writeOffsetCheckpoint(join(dir, name), entries);
    }
  }

  /**
   * Flushes and closes every log, writes the checkpoints, then the clean shutdown marker. A log that cannot be
   * closed cleanly (a full or failing disk), an offline log, or checkpoints that cannot be written leave their
   * log dir without the marker, as Kafka does for an offline dir: its next start recovers it. The other logs
   * are closed all the same.
   */
  async shutdown(): Promise<void> {
    const unclean = new Set<PartitionLog>();
    for (const log of this.logs.values()) {
      if (log.isOffline) unclean.add(log);
      try {
        await log.close();
      } catch (error) {
        unclean.add(log);
        this.logger.error('could not close a log cleanly: its log dir is recovered at the next start', {
          topic: log.topic,
          partition: log.partition,
          error: error as Error,
        });
      }
    }
    try {
      await this.checkpoint();
    } catch (error) {
      this.logger.error('could not write the checkpoints: the log dirs are recovered at the next start', {
        error: error as Error,
      });
      return;
    }
    for (const [dir, logs] of this.logsByDir()) {
      if (!logs.some((log) => unclean.has(log))) await writeFile(join(dir, CLEAN_SHUTDOWN_FILE), '');
    }
  }

  private leastLoadedDir(): string {
    const counts = new Map<string, number>(this.options.logDirs.map((d) => [d, 0]));
    for (const dir of this.dirOf.values()) counts.set(dir, (counts.get(dir) ?? 0) + 1);
    let best = this.options.logDirs[0]!;
    for (const [dir, n] of counts) if (n < counts.get(best)!) best = dir;
    return best;
  }
}

/** Reads meta.properties of a log dir (cluster.id, node.id), if present. */
export async function readMetaProperties(dir: string): Promise<MetaProperties | null> {
  let text: string;
  try {
    text = await readFile(join(dir, META_PROPERTIES_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const props = parseSimpleProperties(text, '=');
  const clusterId = props.get('cluster.id');
  const nodeId = Number(props.get('node.id') ?? props.get('broker.id'));
  if (!clusterId || !Number.isInteger(nodeId))
    throw new Error(`${join(dir, META_PROPERTIES_FILE)} lacks cluster.id or node.id`);
  return { clusterId, nodeId };
}

export async function writeMetaProperties(dir: string, meta: MetaProperties): Promise<void> {
  await mkdir(dir, { recursive: true });
  const directoryId = Buffer.from(randomUUID().replaceAll('-', ''), 'hex').toString('base64url');
  await writeFileAtomic(
    join(dir, META_PROPERTIES_FILE),
    `#\n#Written by Samsa\ncluster.id=${meta.clusterId}\ndirectory.id=${directoryId}\nnode.id=${meta.nodeId}\nversion=1\n`,
  );
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
