/**
 * What storage tells an operator, and the progress of log recovery at start-up. Storage takes any object with
 * the observability Logger's methods (the broker passes its logger), so that this layer imports nothing above it.
 */
export type StorageLogFields = Record<string, string | number | boolean | null | undefined | Error>;

export interface StorageLogger {
  info(message: string, fields?: StorageLogFields): void;
  warn(message: string, fields?: StorageLogFields): void;
  error(message: string, fields?: StorageLogFields): void;
}

/** A logger that drops everything: logs opened without one (tests, tools). */
export const silentStorageLogger: StorageLogger = { info() {}, warn() {}, error() {} };

/** A recovery running longer than this reports its progress, and again each time this much more has passed. */
export const RECOVERY_PROGRESS_INTERVAL_MS = 3000;

/**
 * Counts what the recovery (or the loading, after a clean stop) of one log dir has done, and logs it every
 * RECOVERY_PROGRESS_INTERVAL_MS while it runs: partitions done of the total, bytes scanned. The check is made as bytes are scanned and partitions
 * finish (no timer), so a recovery that is quick says nothing until its summary.
 */
export class RecoveryProgress {
  partitionsDone = 0;
  partitionsRecovered = 0;
  bytesScanned = 0;
  private readonly startedMs: number;
  private lastReportMs: number;

  constructor(
    private readonly logger: StorageLogger,
    private readonly logDir: string,
    private readonly partitions: number,
    /** Whether the previous run stopped uncleanly (recovery) rather than cleanly (only loading). */
    private readonly recovering: boolean,
    private readonly now: () => number = Date.now,
    private readonly intervalMs = RECOVERY_PROGRESS_INTERVAL_MS,
  ) {
    this.startedMs = now();
    this.lastReportMs = this.startedMs;
  }

  scanned(bytes: number): void {
    this.bytesScanned += bytes;
    this.maybeReport();
  }

  partitionDone(recovered: boolean): void {
    this.partitionsDone++;
    if (recovered) this.partitionsRecovered++;
    this.maybeReport();
  }

  /** The summary line, when anything was recovered. */
  finish(): void {
    if (this.partitionsRecovered === 0) return;
    this.logger.info('log recovery done', {
      logDir: this.logDir,
      partitions: this.partitionsDone,
      recovered: this.partitionsRecovered,
      bytesScanned: this.bytesScanned,
      ms: this.now() - this.startedMs,
    });
  }

  private maybeReport(): void {
    const nowMs = this.now();
    if (nowMs - this.lastReportMs < this.intervalMs) return;
    this.lastReportMs = nowMs;
    this.logger.info(this.recovering ? 'log recovery in progress' : 'loading logs', {
      logDir: this.logDir,
      partitionsDone: this.partitionsDone,
      partitions: this.partitions,
      bytesScanned: this.bytesScanned,
      ms: nowMs - this.startedMs,
    });
  }
}
