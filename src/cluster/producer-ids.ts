import type { MetadataStore } from './metadata-store.js';

/** The store key holding the first producer id not yet handed to any broker. */
export const NEXT_PRODUCER_ID_BLOCK_KEY = '/producer-ids/next-block';
/** Kafka's block size: each broker takes this many ids at a time, so the store sees one write per thousand. */
export const PRODUCER_ID_BLOCK_SIZE = 1000;
/** How many times taking a block is retried when another broker took one at the same moment. */
const BLOCK_ATTEMPTS = 20;

/**
 * Hands out producer ids that are never reused, across restarts and across the brokers of a cluster: ids are
 * taken from the metadata store in blocks (compare-and-set on one key), and a block is never given back, so a
 * restart skips the rest of its block as Kafka does.
 */
export class ProducerIdManager {
  private next = 0n;
  private end = 0n;
  /** A block request in flight, shared by the callers that arrive meanwhile. */
  private refill: Promise<void> | null = null;

  constructor(private readonly store: MetadataStore) {}

  async nextProducerId(): Promise<bigint> {
    while (this.next >= this.end) {
      this.refill ??= this.takeBlock().finally(() => {
        this.refill = null;
      });
      await this.refill;
    }
    const id = this.next;
    this.next++;
    return id;
  }

  private async takeBlock(): Promise<void> {
    for (let attempt = 0; attempt < BLOCK_ATTEMPTS; attempt++) {
      const current = await this.store.get(NEXT_PRODUCER_ID_BLOCK_KEY);
      const start = current ? BigInt(current.value) : 0n;
      const end = start + BigInt(PRODUCER_ID_BLOCK_SIZE);
      const taken = await this.store.txn(
        [{ key: NEXT_PRODUCER_ID_BLOCK_KEY, modRevision: current?.modRevision ?? 0 }],
        [{ type: 'put', key: NEXT_PRODUCER_ID_BLOCK_KEY, value: String(end) }],
      );
      if (taken.succeeded) {
        this.next = start;
        this.end = end;
        return;
      }
    }
    throw new Error('could not take a block of producer ids: the store kept changing');
  }
}
