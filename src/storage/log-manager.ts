import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  parseSimpleProperties,
  partitionKey,
  readOffsetCheckpoint,
  writeFileAtomic,
  writeOffsetCheckpoint,
} from './checkpoint-file.js';
import { RecoveryProgress, type StorageLogger, silentStorageLogger } from './log-recovery.js';
import {
  DEFAULT_PRODUCER_ID_EXPIRATION_MS,
  type LogConfig,
  PartitionLog,
  renamedDirName,
  TRUNCATED_DIR_SUFFIX,
} from './partition-log.js';
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
/**
 * Suffix of a partition directory set aside because the metadata does not know it (Kafka's stray logs):
 * kept, never served, never deleted by the broker.
 */
export const STRAY_DIR_SUFFIX = '-stray';

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
  /** The topic id in each log's partition.metadata (undefined: missing or unreadable). */
  private readonly topicIds = new Map<string, string | undefined>();
  /** Whether the previous run of each log dir ended with a clean shutdown. */
  readonly hadCleanShutdown = new Map<string, boolean>();

  private readonly tailCache: TailCacheBudget | undefined;
  private readonly logger: StorageLogger;

  constructor(private readonly options: LogManagerOptions) {
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? silentStorageLogger;
    if (options.tailCacheBytes) this.tailCache = new TailCacheBudget(options.tailCacheBytes);
  }

  /**
   * Opens every log. Recovery runs where the previous run did not shut down cleanly, or where the recovery
   * point checkpoint cannot be read. Directories set aside as stray are left alone (and reported).
   */
  async startup(): Promise<void> {
    for (const dir of this.options.logDirs) {
      await mkdir(dir, { recursive: true });
      const marker = join(dir, CLEAN_SHUTDOWN_FILE);
      const clean = await exists(marker);
      this.hadCleanShutdown.set(dir, clean);
      // A damaged checkpoint is rebuilt from the logs, as Kafka does: without recovery points every segment is
      // recovered; without log start offsets each log starts at its first segment; without the cleaner's
      // offsets compacted logs are cleaned from their start.
      const recoveryPoints = await this.readCheckpoint(dir, RECOVERY_POINT_CHECKPOINT_FILE, 'every log is recovered');
      const logStartOffsets = await this.readCheckpoint(
        dir,
        LOG_START_OFFSET_CHECKPOINT_FILE,
        'each log starts at its first segment',
      );
      const cleanerOffsets = await this.readCheckpoint(
        dir,
        CLEANER_OFFSET_CHECKPOINT_FILE,
        'compacted logs are cleaned from their start',
      );
      const highWatermarks = await this.readCheckpoint(
        dir,
        REPLICATION_OFFSET_CHECKPOINT_FILE,
        'replicated partitions start with their high watermark at their log end',
      );
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
        if (name.endsWith(STRAY_DIR_SUFFIX)) {
          this.logger.warn('stray log kept aside, not served', { path });
          continue;
        }
        if (name.endsWith(TRUNCATED_DIR_SUFFIX)) {
          this.logger.warn('segments that recovery moved out of a partition kept aside, not served', { path });
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
          recoveryPoint: recoveryPoints?.get(key) ?? 0,
          logStartOffset: logStartOffsets?.get(key) ?? 0,
          cleanShutdown: clean && recoveryPoints !== null,
          now: this.now,
          tailCache: this.tailCache,
          producerIdExpirationMs: this.options.producerIdExpirationMs,
          logger: this.logger,
          recovery,
        });
        // As in Kafka, a cleaner offset outside the log (truncated, or the topic deleted and created again) is
        // forgotten: the log counts as dirty from its start.
        const cleaned = cleanerOffsets?.get(key);
        if (cleaned !== undefined && cleaned >= log.logStartOffset && cleaned <= log.logEndOffset) {
          log.firstDirtyOffset = cleaned;
        }
        const highWatermark = highWatermarks?.get(key);
        if (highWatermark !== undefined) log.checkpointedHighWatermark = highWatermark;
        this.logs.set(key, log);
        this.dirOf.set(key, dir);
        this.topicIds.set(key, await readPartitionMetadata(path));
      }
      recovery.finish();
      // From now on a crash must be detected at the next start.
      await rm(marker, { force: true });
    }
  }

  /** A checkpoint file's entries; null, with a warning, when the file is there but cannot be read. */
  private async readCheckpoint(dir: string, name: string, consequence: string): Promise<Map<string, number> | null> {
    const path = join(dir, name);
    try {
      return await readOffsetCheckpoint(path);
    } catch (e) {
      this.logger.warn(`checkpoint file unreadable, ${consequence}`, { path, reason: (e as Error).message });
      return null;
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

  /**
   * Creates the log of a new partition in the log dir holding the fewest partitions. On failure (a full disk,
   * no file descriptors left) nothing of it stays on disk.
   */
  async createLog(topic: string, partition: number, topicId: string): Promise<PartitionLog> {
    const key = partitionKey(topic, partition);
    const existing = this.logs.get(key);
    if (existing) return existing;
    const dir = this.leastLoadedDir();
    const path = join(dir, key);
    // Not recursive: a directory already there is not ours to remove if the creation fails.
    await mkdir(path);
    let log: PartitionLog;
    try {
      await writePartitionMetadata(path, topicId);
      log = await PartitionLog.open({
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
    } catch (e) {
      await rm(path, { recursive: true, force: true }).catch(() => {});
      throw e;
    }
    this.logs.set(key, log);
    this.dirOf.set(key, dir);
    this.topicIds.set(key, topicId);
    return log;
  }

  /**
   * The topic id recorded in a partition's partition.metadata as read at start-up or written since; undefined
   * when the file is missing or unreadable.
   */
  topicIdOf(topic: string, partition: number): string | undefined {
    return this.topicIds.get(partitionKey(topic, partition));
  }

  /** Writes a partition's partition.metadata again (it was missing or unreadable); returns its path. */
  async rewritePartitionMetadata(topic: string, partition: number, topicId: string): Promise<string> {
    const key = partitionKey(topic, partition);
    const log = this.logs.get(key);
    if (!log) throw new Error(`no log for ${key}`);
    await writePartitionMetadata(log.dir, topicId);
    this.topicIds.set(key, topicId);
    return join(log.dir, PARTITION_METADATA_FILE);
  }

  /** Deletes a partition's log: the directory is renamed Kafka's way first, so a crash finishes the job at start-up. */
  async deleteLog(topic: string, partition: number): Promise<void> {
    const doomed = await this.renameAside(topic, partition, DELETE_DIR_SUFFIX);
    if (doomed) await rm(doomed, { recursive: true, force: true });
  }

  /**
   * Sets a partition's log aside as Kafka sets stray logs aside: closed, no longer served, its directory renamed
   * `<topic>-<partition>.<uuid>-stray` so that a new log of that name starts empty. Returns the new path.
   */
  strayLog(topic: string, partition: number): Promise<string | null> {
    return this.renameAside(topic, partition, STRAY_DIR_SUFFIX);
  }

  private async renameAside(topic: string, partition: number, suffix: string): Promise<string | null> {
    const key = partitionKey(topic, partition);
    const log = this.logs.get(key);
    if (!log) return null;
    this.logs.delete(key);
    this.dirOf.delete(key);
    this.topicIds.delete(key);
    await log.close();
    const renamed = join(dirname(log.dir), renamedDirName(topic, partition, suffix));
    await rename(log.dir, renamed);
    return renamed;
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

function writePartitionMetadata(dir: string, topicId: string): Promise<void> {
  return writeFileAtomic(join(dir, PARTITION_METADATA_FILE), `version: 0\ntopic_id: ${topicId}\n`);
}

/** The topic id in a partition directory's partition.metadata; undefined when missing or unreadable. */
async function readPartitionMetadata(dir: string): Promise<string | undefined> {
  try {
    const props = parseSimpleProperties(await readFile(join(dir, PARTITION_METADATA_FILE), 'utf8'), ':');
    const topicId = props.get('topic_id');
    // Kafka's printed UUID: 22 base64url characters.
    return props.get('version') === '0' && topicId && /^[A-Za-z0-9_-]{22}$/.test(topicId) ? topicId : undefined;
  } catch {
    return undefined;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
