import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Compare, KeyValue, MetadataStore, Operation, TxnResult, WatchEvent } from './metadata-store.js';

/** The store's own folder inside the first log dir. */
export const EMBEDDED_METADATA_DIR = '__samsa_metadata';
const SNAPSHOT_FILE = 'snapshot.json';
const JOURNAL_FILE = 'journal.jsonl';
/** Journal entries after which the state is written as a new snapshot and the journal restarted. */
const SNAPSHOT_EVERY_ENTRIES = 1000;

interface JournalEntry {
  revision: number;
  events: Array<{ type: 'put'; key: string; value: string } | { type: 'delete'; key: string }>;
}

interface Watcher {
  prefix: string;
  listener: (events: WatchEvent[], revision: number) => void;
}

/**
 * The metadata store of a broker that runs alone: the state is in memory, and every transaction is
 * appended to a journal file and fsynced before it is acknowledged. At start-up the snapshot and the
 * journal are replayed; a torn last journal line (a crash mid-write) is ignored, since it was never
 * acknowledged. Leases live in this process only: with one broker, its ephemeral keys disappear when it
 * stops, which `open` reproduces by not persisting leased keys.
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

  private constructor(private readonly dir: string) {}

  static async open(logDir: string): Promise<EmbeddedMetadataStore> {
    const dir = join(logDir, EMBEDDED_METADATA_DIR);
    await mkdir(dir, { recursive: true });
    const store = new EmbeddedMetadataStore(dir);
    try {
      const snapshot = JSON.parse(await readFile(join(dir, SNAPSHOT_FILE), 'utf8')) as {
        revision: number;
        data: KeyValue[];
      };
      store.currentRevision = snapshot.revision;
      for (const kv of snapshot.data) store.data.set(kv.key, kv);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    let journal = '';
    try {
      journal = await readFile(join(dir, JOURNAL_FILE), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const lines = journal.split('\n').filter((l) => l.length > 0);
    for (let i = 0; i < lines.length; i++) {
      let entry: JournalEntry;
      try {
        entry = JSON.parse(lines[i]!) as JournalEntry;
      } catch (e) {
        if (i === lines.length - 1) break; // torn write of an unacknowledged transaction
        throw new Error(`metadata journal line ${i + 1} is corrupt: ${String(e)}`);
      }
      if (entry.revision <= store.currentRevision) continue; // already in the snapshot
      store.apply(entry);
      store.journalEntries++;
    }
    return store;
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
    for (const c of compares) {
      if ((this.data.get(c.key)?.modRevision ?? 0) !== c.modRevision) {
        return { succeeded: false, revision: this.currentRevision };
      }
    }
    if (operations.length === 0) return { succeeded: true, revision: this.currentRevision };
    for (const op of operations) {
      if (op.type === 'put' && op.lease && !this.leases.has(op.lease)) throw new Error(`lease ${op.lease} not found`);
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
    if (this.journalEntries >= SNAPSHOT_EVERY_ENTRIES) await this.snapshot();
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

  private async persist(entry: JournalEntry): Promise<void> {
    const file = await open(join(this.dir, JOURNAL_FILE), 'a');
    try {
      await file.write(`${JSON.stringify(entry)}\n`);
      await file.datasync();
    } finally {
      await file.close();
    }
    this.journalEntries++;
  }

  /** Writes the durable state (leased keys excluded) as a snapshot, then starts an empty journal. */
  private async snapshot(): Promise<void> {
    const data = [...this.data.values()].filter((kv) => kv.lease === 0);
    const tmp = join(this.dir, `${SNAPSHOT_FILE}.tmp`);
    const file = await open(tmp, 'w');
    try {
      await file.writeFile(JSON.stringify({ revision: this.currentRevision, data }));
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, join(this.dir, SNAPSHOT_FILE));
    // Entries up to this revision are in the snapshot; replay skips them even if this truncation is lost.
    await (await open(join(this.dir, JOURNAL_FILE), 'w')).close();
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
    if (!l) throw new Error(`lease ${lease} not found`);
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
  }
}
