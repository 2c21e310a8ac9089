import type { CoordinatorClock, TimerHandle } from '../../../src/coordinator/runtime/coordinator-clock.js';
import type {
  CoordinatorBatchInfo,
  CoordinatorLog,
  CoordinatorLogRecord,
  CoordinatorTransactionalAppend,
} from '../../../src/coordinator/runtime/coordinator-log.js';
import { Logger } from '../../../src/observability/logger.js';

/** A clock that moves only when told; timers due run in time order. */
export class MockClock implements CoordinatorClock {
  private time: number;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; callback: () => void }>();

  constructor(start = 1_000_000) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + Math.max(0, delayMs), callback });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle as number);
  }

  /** Moves time forward by `ms`, running each timer due on the way at its time. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      let due: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].at <= end && (!due || entry[1].at < due[1].at)) due = entry;
      if (!due) break;
      this.timers.delete(due[0]);
      this.time = Math.max(this.time, due[1].at);
      due[1].callback();
    }
    this.time = end;
  }

  get pendingTimers(): number {
    return this.timers.size;
  }
}

/** How the next append fails: before anything is written, or after the records are in the log (a sync failed). */
export type AppendFault = 'before-write' | 'after-write';

/** A coordinator partition's log in memory, with faults to inject. */
/** A plain (non-transactional, non-control) batch. */
const PLAIN_BATCH: CoordinatorBatchInfo = { producerId: -1n, isTransactional: false, isControl: false };

export class InMemoryCoordinatorLog implements CoordinatorLog {
  readonly records: Array<CoordinatorLogRecord & { batch?: CoordinatorBatchInfo }> = [];
  /** When set, the next transactional append fails as a fenced producer's: refused before anything is written. */
  nextRefusal: Error | null = null;
  nextFault: AppendFault | null = null;
  /** While set, appends wait for it: a test sees what happens before an append is committed. */
  appendGate: Promise<void> | null = null;
  /** While set, loading waits for it. */
  replayGate: Promise<void> | null = null;
  appends = 0;

  async replay(onRecord: (key: Buffer, value: Buffer | null, batch: CoordinatorBatchInfo) => void): Promise<void> {
    if (this.replayGate) await this.replayGate;
    for (const r of [...this.records]) onRecord(r.key, r.value, r.batch ?? PLAIN_BATCH);
  }

  /** Writes a transaction marker (a control record: version 0, type 0 abort or 1 commit) as a partition's log would. */
  writeMarker(producerId: bigint, committed: boolean): void {
    const key = Buffer.alloc(4);
    key.writeInt16BE(0, 0);
    key.writeInt16BE(committed ? 1 : 0, 2);
    this.records.push({ key, value: Buffer.alloc(6), batch: { producerId, isTransactional: true, isControl: true } });
  }

  async append(
    records: readonly CoordinatorLogRecord[],
    transactional?: CoordinatorTransactionalAppend,
  ): Promise<void> {
    this.appends++;
    // Only a producer's transactional batch is refused (its epoch fenced).
    const refusal = transactional ? this.nextRefusal : null;
    if (refusal) this.nextRefusal = null;
    // A refused append fails before any write, and leaves an injected fault for the next one.
    const fault = refusal ? null : this.nextFault;
    if (!refusal) this.nextFault = null;
    if (this.appendGate) await this.appendGate;
    if (refusal) throw refusal;
    if (fault === 'before-write') throw new Error('injected: write failed');
    const batch = transactional
      ? { producerId: transactional.producerId, isTransactional: true, isControl: false }
      : undefined;
    for (const r of records)
      this.records.push({ key: Buffer.from(r.key), value: r.value && Buffer.from(r.value), ...(batch && { batch }) });
    if (fault === 'after-write') throw new Error('injected: sync failed after the write');
  }
}

/** Drops what it is told, so tests print only the runner's summary; errors can be collected. */
export function quietLogger(lines: string[] = []): Logger {
  return new Logger('test', { level: 'error', sink: { write: (line) => void lines.push(line) } });
}

export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
