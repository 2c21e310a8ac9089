import { type FileHandle, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type Compare,
  type KeyValue,
  LeaseLostError,
  type MetadataStore,
  type Operation,
  type TxnResult,
  type WatchEvent,
} from './metadata-store.js';

/** The store's own folder inside the first log dir. */
export const EMBEDDED_METADATA_DIR = '__samsa_metadata';
export const SNAPSHOT_FILE = 'snapshot.json';
export const JOURNAL_FILE = 'journal.jsonl';
/** Written in each log dir at the first start, after the store's first entry (see LogManager). */
const META_PROPERTIES_FILE = 'meta.properties';
/** Journal entries after which the state is written as a new snapshot and the journal restarted. */
const SNAPSHOT_EVERY_ENTRIES = 1000;

interface JournalEntry {
  revision: number;
  events: Array<{ type: 'put'; key: string; value: string } | { type: 'delete'; key: string }>;
}

export interface EmbeddedMetadataStoreOptions {
  /** Told what an operator must know: a torn journal tail cut away, a snapshot that could not be written. */
  onWarning?: (message: string, fields: Record<string, string | number>) => void;
}

interface Watcher {
  prefix: string;
  listener: (events: WatchEvent[], revision: number) => void;
}

/**
 * The metadata store of a broker that runs alone: the state is in memory, and every transaction is
 * appended to a journal file, whole and fsynced, before it is acknowledged; a write that fails is cut off
 * the journal again and the state is left as it was. At start-up the snapshot and the journal are replayed;
 * a torn last journal entry (a crash mid-write) was never acknowledged and is cut away. Leases live in this
 * process only: with one broker, its ephemeral keys disappear when it stops, which `open` reproduces by not
 * persisting leased keys.
 */
export class EmbeddedMetadataStore implements MetadataStore {
  private readonly data = new Map<string, KeyValue>();
  private currentRevision = 0;
  private journalEntries = 0;
  private readonly watchers = new Set<Watcher>();
  private nextLease = 1;
  private readonly leases = new Map<number, { ttlMs: number; timer: NodeJS.Timeout; keys: Set<string> }>();
  /** Serialises transactions so that the journal order is the revision order. */
  private tail: Promise<unknown> = Promise.resolve();
  /** The journal, open for appending while the store is; its length holds whole entries only. */
  private journal: FileHandle | null = null;
  private journalBytes = 0;
  /** Set when a failed write could not be cut off the journal: nothing more may be appended after it. */
  private failure: Error | null = null;
  /** Bytes of a torn last entry found at open (0: none); see lostEntriesError. */
  tornTailBytes = 0;
  /** Whether the torn last entry is still in the file: cut off before the next write. */
  private tornTailPending = false;

  private constructor(
    private readonly dir: string,
    private readonly options: EmbeddedMetadataStoreOptions,
  ) {}

  static async open(logDir: string, options: EmbeddedMetadataStoreOptions = {}): Promise<EmbeddedMetadataStore> {
    const dir = join(logDir, EMBEDDED_METADATA_DIR);
    await mkdir(dir, { recursive: true });
    const store = new EmbeddedMetadataStore(dir, options);
    const snapshotPath = join(dir, SNAPSHOT_FILE);
    const journalPath = join(dir, JOURNAL_FILE);
    const snapshotText = await readIfExists(snapshotPath);
    const journal = await readIfExists(journalPath, true);
    const used = snapshotText !== null || (await exists(join(logDir, META_PROPERTIES_FILE)));
    if (journal === null && used) throw new Error(lostJournal(journalPath, logDir, 'is missing'));
    if (snapshotText !== null) {
      try {
        const snapshot = JSON.parse(snapshotText) as { revision: number; data: KeyValue[] };
        store.currentRevision = snapshot.revision;
        for (const kv of snapshot.data) store.data.set(kv.key, kv);
      } catch (e) {
        // Written whole and renamed into place: damage here is not a torn write, and nothing rebuilds it.
        throw new Error(`metadata snapshot ${snapshotPath} is unreadable: ${String(e)}`);
      }
    }
    const bytes = (journal as Buffer | null) ?? Buffer.alloc(0);
    let valid = 0;
    for (let line = 1, at = 0; at < bytes.length; line++) {
      const end = bytes.indexOf(0x0a, at);
      // An entry counts only once its newline is written; the newline is the last byte of its write.
      const entry = end === -1 ? null : parseEntry(bytes.subarray(at, end));
      const last = end === -1 || end === bytes.length - 1;
      if (!entry) {
        if (last) break; // a torn write of a transaction never acknowledged
        throw new Error(
          `metadata journal ${journalPath} line ${line} is corrupt and entries follow it: restore ` +
            `${EMBEDDED_METADATA_DIR} from a backup`,
        );
      }
      at = end + 1;
      valid = at;
      if (entry.revision <= store.currentRevision) continue; // already in the snapshot
      store.apply(entry);
      store.journalEntries++;
    }
    // The journal of a used log dir is never empty: without a snapshot it holds at least the cluster id's entry,
    // written before meta.properties; after a snapshot it starts with an entry at the snapshot's revision. An
    // empty one (or one with only a torn entry) lost its entries, as a missing one did.
    if (valid === 0 && used) {
      throw new Error(lostJournal(journalPath, logDir, bytes.length === 0 ? 'is empty' : 'holds no whole entry'));
    }
    store.journal = await open(journalPath, 'a');
    if (valid < bytes.length) {
      // Cut off before the next entry is written, not now: a start refused for what the cut hides (see
      // lostEntriesError) must leave the journal as it found it, so that the next start refuses too.
      options.onWarning?.(
        'metadata journal has a torn last entry (never acknowledged): ignored, cut off before the next entry',
        {
          path: journalPath,
          bytes: bytes.length - valid,
        },
      );
    }
    store.journalBytes = valid;
    store.tornTailBytes = bytes.length - valid;
    store.tornTailPending = store.tornTailBytes > 0;
    return store;
  }

  /**
   * Why start-up stops when the journal's torn tail was cut and yet partition logs belong to topics the state
   * does not know. A torn last entry from a crash was never acknowledged, so nothing was done after it: a log
   * it would have created does not exist. Such logs show instead that the journal was cut in its middle and
   * acknowledged entries are gone (topics, configs, the internal topics' ids); a cut journal cannot tell the
   * two apart by itself.
   */
  lostEntriesError(logDirs: readonly string[]): Error {
    const journalPath = join(this.dir, JOURNAL_FILE);
    return new Error(
      `metadata journal ${journalPath} ended in a cut entry (${this.tornTailBytes} bytes), and the partition ` +
        `logs ${logDirs.join(', ')} belong to topics it does not know: entries that were acknowledged are lost. ` +
        `Restore ${EMBEDDED_METADATA_DIR} from a backup; or, to start with what is left (those logs set aside as ` +
        `stray logs, not served, not deleted), cut the file after its last whole line (remove its last ` +
        `${this.tornTailBytes} bytes).`,
    );
  }

  async get(key: string): Promise<KeyValue | null> {
    return this.data.get(key) ?? null;
  }

  async list(prefix: string): Promise<KeyValue[]> {
    const out: KeyValue[] = [];
    for (const kv of this.data.values()) if (kv.key.startsWith(prefix)) out.push(kv);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async revision(): Promise<number> {
    return this.currentRevision;
  }

  txn(compares: Compare[], operations: Operation[]): Promise<TxnResult> {
    const run = this.tail.then(() => this.runTxn(compares, operations));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async runTxn(compares: Compare[], operations: Operation[]): Promise<TxnResult> {
    if (this.failure) throw this.failure;
    for (const c of compares) {
      if ((this.data.get(c.key)?.modRevision ?? 0) !== c.modRevision) {
        return { succeeded: false, revision: this.currentRevision };
      }
    }
    if (operations.length === 0) return { succeeded: true, revision: this.currentRevision };
    for (const op of operations) {
      if (op.type === 'put' && op.lease && !this.leases.has(op.lease)) throw new LeaseLostError(op.lease);
    }
    const entry: JournalEntry = {
      revision: this.currentRevision + 1,
      events: operations
        .filter((op) => !(op.type === 'put' && op.lease))
        .map((op) =>
          op.type === 'put' ? { type: 'put', key: op.key, value: op.value } : { type: 'delete', key: op.key },
        ),
    };
    if (entry.events.length > 0) await this.persist(entry);
    const events = this.apply({ revision: entry.revision, events: [] }, operations);
    if (this.journalEntries >= SNAPSHOT_EVERY_ENTRIES) await this.snapshotOrWarn();
    this.notify(events, entry.revision);
    return { succeeded: true, revision: entry.revision };
  }

  /** Applies a journal entry, or live operations (which may carry leases), at the entry's revision. */
  private apply(entry: JournalEntry, operations?: Operation[]): WatchEvent[] {
    const events: WatchEvent[] = [];
    const ops: Operation[] = operations ?? entry.events;
    for (const op of ops) {
      if (op.type === 'put') {
        const lease = op.lease ?? 0;
        const kv: KeyValue = { key: op.key, value: op.value, modRevision: entry.revision, lease };
        this.data.set(op.key, kv);
        if (lease) this.leases.get(lease)?.keys.add(op.key);
        events.push({ type: 'put', kv });
      } else if (this.data.delete(op.key)) {
        events.push({ type: 'delete', key: op.key, modRevision: entry.revision });
      }
    }
    this.currentRevision = entry.revision;
    return events;
  }

  /**
   * Appends an entry whole and synced, or throws with the journal back at its previous length, so that no
   * entry is ever written after a torn one.
   */
  private async persist(entry: JournalEntry): Promise<void> {
    const journal = this.journal;
    if (!journal) throw new Error('metadata store is closed');
    const bytes = Buffer.from(`${JSON.stringify(entry)}\n`);
    if (this.tornTailPending) {
      // The file is open for appending: the torn bytes must go before anything is written after them.
      await journal.truncate(this.journalBytes);
      await journal.datasync();
      this.tornTailPending = false;
    }
    try {
      // A write may take only part of the bytes (a full disk takes what fits): write the rest, or fail.
      for (let at = 0; at < bytes.length; ) {
        const { bytesWritten } = await journal.write(bytes, at, bytes.length - at);
        if (bytesWritten <= 0) throw new Error(`metadata journal write made no progress at ${at} of ${bytes.length}`);
        at += bytesWritten;
      }
      await journal.datasync();
    } catch (error) {
      try {
        await journal.truncate(this.journalBytes);
        await journal.datasync();
      } catch (cause) {
        this.failure = new Error(
          `metadata journal ${join(this.dir, JOURNAL_FILE)} could not be restored after a failed write; restart the broker`,
          { cause },
        );
      }
      throw error;
    }
    this.journalBytes += bytes.length;
    this.journalEntries++;
  }

  /** A snapshot that fails leaves the journal whole, so the transaction that triggered it still stands. */
  private async snapshotOrWarn(): Promise<void> {
    try {
      await this.snapshot();
    } catch (error) {
      this.options.onWarning?.('metadata snapshot could not be written; the journal keeps growing until it can', {
        path: join(this.dir, SNAPSHOT_FILE),
        reason: (error as Error).message,
      });
      this.journalEntries = 0; // tried again after as many entries more
    }
  }

  /** Writes the durable state (leased keys excluded) as a snapshot, then restarts the journal after it. */
  private async snapshot(): Promise<void> {
    const data = [...this.data.values()].filter((kv) => kv.lease === 0);
    const tmp = join(this.dir, `${SNAPSHOT_FILE}.tmp`);
    try {
      const file = await open(tmp, 'w');
      try {
        // writeFile writes every byte or throws.
        await file.writeFile(JSON.stringify({ revision: this.currentRevision, data }));
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(tmp, join(this.dir, SNAPSHOT_FILE));
    } catch (error) {
      await rm(tmp, { force: true }).catch(() => {});
      throw error;
    }
    // The rename must be durable before the journal it replaces is emptied.
    await syncDirectory(this.dir);
    // Entries up to this revision are in the snapshot; replay skips them even if this replacement is lost. The
    // new journal starts with an entry of no events at the snapshot's revision rather than empty, so that an
    // empty journal always means a lost one (see open). It replaces the old one by a rename, so that a crash
    // leaves one or the other whole, never an empty file.
    const marker = Buffer.from(`${JSON.stringify({ revision: this.currentRevision, events: [] })}\n`);
    const journalPath = join(this.dir, JOURNAL_FILE);
    const journalTmp = `${journalPath}.tmp`;
    let replacement: FileHandle | null = null;
    try {
      replacement = await open(journalTmp, 'w');
      await replacement.writeFile(marker);
      await replacement.datasync();
      await replacement.close();
      replacement = null;
      await rename(journalTmp, journalPath);
    } catch (error) {
      await replacement?.close().catch(() => {});
      await rm(journalTmp, { force: true }).catch(() => {});
      throw error;
    }
    await syncDirectory(this.dir);
    const old = this.journal!;
    this.journal = await open(journalPath, 'a');
    await old.close();
    this.tornTailPending = false;
    this.journalBytes = marker.length;
    this.journalEntries = 0;
  }

  watch(prefix: string, fromRevision: number, listener: (events: WatchEvent[], revision: number) => void): () => void {
    if (fromRevision < this.currentRevision) {
      // No history is kept: replay the current state of the prefix as puts.
      const events: WatchEvent[] = [];
      for (const kv of this.data.values()) {
        if (kv.key.startsWith(prefix) && kv.modRevision > fromRevision) events.push({ type: 'put', kv });
      }
      if (events.length > 0) queueMicrotask(() => listener(events, this.currentRevision));
    }
    const watcher = { prefix, listener };
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  private notify(events: WatchEvent[], revision: number): void {
    for (const w of this.watchers) {
      const mine = events.filter((e) => (e.type === 'put' ? e.kv.key : e.key).startsWith(w.prefix));
      if (mine.length > 0) w.listener(mine, revision);
    }
  }

  async grantLease(ttlMs: number): Promise<number> {
    const id = this.nextLease++;
    const timer = setTimeout(() => void this.revokeLease(id), ttlMs);
    timer.unref();
    this.leases.set(id, { ttlMs, timer, keys: new Set() });
    return id;
  }

  async keepAlive(lease: number): Promise<void> {
    const l = this.leases.get(lease);
    if (!l) throw new LeaseLostError(lease);
    l.timer.refresh();
  }

  async revokeLease(lease: number): Promise<void> {
    const l = this.leases.get(lease);
    if (!l) return;
    clearTimeout(l.timer);
    this.leases.delete(lease);
    const keys = [...l.keys].filter((k) => this.data.get(k)?.lease === lease);
    if (keys.length > 0)
      await this.txn(
        [],
        keys.map((key) => ({ type: 'delete', key })),
      );
  }

  async close(): Promise<void> {
    await this.tail;
    for (const l of this.leases.values()) clearTimeout(l.timer);
    this.leases.clear();
    this.watchers.clear();
    await this.journal?.close();
    this.journal = null;
  }
}

/**
 * The journal entry an operator writes to start a used log dir from what is left on purpose (no topics, or the
 * snapshot's state): revision 0 with no events, which replay skips (it is at or below every revision). It makes
 * the journal non-empty, so that an empty journal can still be told apart and refused as a lost one.
 */
export const START_EMPTY_ENTRY = '{"revision":0,"events":[]}';

/**
 * Why start-up stops when the journal of a used log dir is lost, and what the operator can do. The journal
 * exists from a log dir's first start on (the cluster id is its first entry). Without it the topics, their
 * configs and the producer ids handed out are gone; starting empty would set every log aside and hand out
 * producer ids again, so the operator decides.
 */
function lostJournal(journalPath: string, logDir: string, what: string): string {
  return (
    `metadata journal ${journalPath} ${what}, but ${logDir} was used before (meta.properties or a snapshot ` +
    `present): the topics and configs written since the last snapshot (all of them without one) would be ` +
    `lost. Restore ${EMBEDDED_METADATA_DIR} from a backup; or, to start from what is left (the snapshot's ` +
    'state, else no topics) and keep every partition log it does not name aside as a stray log (not served, ' +
    `not deleted), write the single line ${START_EMPTY_ENTRY} into that file.`
  );
}

/** A journal line as an entry, or null when it is not one (torn or damaged). */
function parseEntry(line: Buffer): JournalEntry | null {
  try {
    const entry = JSON.parse(line.toString('utf8')) as JournalEntry;
    return Number.isInteger(entry?.revision) && Array.isArray(entry.events) ? entry : null;
  } catch {
    return null;
  }
}

async function readIfExists(path: string): Promise<string | null>;
async function readIfExists(path: string, raw: true): Promise<Buffer | null>;
async function readIfExists(path: string, raw?: true): Promise<string | Buffer | null> {
  try {
    return raw ? await readFile(path) : await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

/** fsyncs a directory, so that a rename in it survives a crash. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
