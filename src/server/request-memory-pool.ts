/** What the pool asks of a connection it stopped: to try reading again. */
export interface PoolMember {
  /** The pool has room again, or gives this connection the turn: re-check and read. */
  resumeReading(): void;
  /** Whether it holds part of a frame: only such a connection can use a turn (an idle one would keep it). */
  readonly holdsPartialFrame: boolean;
}

/**
 * Memory for request bytes across all connections of a listener (Kafka's queued.max.request.bytes): bytes
 * received of frames not yet complete, and requests being handled. At the cap, connections stop being read (not
 * dropped) and resume, oldest first, as handlers finish and free memory.
 *
 * As in Kafka, a frame's whole size is reserved once its size prefix is read, and granted while the pool is
 * below the cap, however large the frame ("non-strict": the pool may go past the cap by one frame). A frame with
 * its memory reserved is read to its end whatever the pool holds, so a frame larger than the whole cap still gets
 * through, and the frames being read always finish.
 *
 * Bytes read before a reservation (a read ends anywhere, maybe mid-frame) can still fill the pool with partial
 * frames on every connection and nothing in progress that would free memory. Then, and only then, the oldest
 * waiting connection gets the turn: it may read and reserve past the cap, once.
 *
 * Held at most: the cap, plus one frame, plus one read (64 KiB) per connection.
 */
export class RequestMemoryPool {
  private used = 0;
  /** Frames reserved and still arriving. */
  private reservations = 0;
  /** Requests whose handlers are running: each frees its memory when done. */
  private requestsInProgress = 0;
  /** Connections stopped for memory, in the order they stopped. */
  private readonly waiting = new Set<PoolMember>();
  /** The connection given the turn when the pool was stuck. */
  private turn: PoolMember | null = null;

  /** `capacity` <= 0 is Kafka's -1: no bound. */
  constructor(readonly capacity: number) {}

  get usedBytes(): number {
    return this.used;
  }

  /** Connections waiting for memory. */
  get waitingCount(): number {
    return this.waiting.size;
  }

  private get full(): boolean {
    return this.capacity > 0 && this.used >= this.capacity;
  }

  /** Whether `member` may read bytes it has no reservation for. */
  mayRead(member: PoolMember): boolean {
    return !this.full || this.turn === member;
  }

  /** Bytes received (already in memory: counted, never refused). */
  charge(bytes: number): void {
    this.used += bytes;
  }

  /** Reserves the rest of a frame whose size is known; false (and the caller waits) when the pool is full. */
  tryReserve(member: PoolMember, bytes: number): boolean {
    if (!this.mayRead(member)) return false;
    if (this.turn === member) this.turn = null;
    this.used += bytes;
    this.reservations++;
    return true;
  }

  /** A reserved frame is complete (or its connection closed). */
  reservationDone(): void {
    this.reservations--;
    this.unstick();
  }

  /** A request's handler starts: it holds its frame's memory until `requestEnded`. */
  requestStarted(member: PoolMember): void {
    this.requestsInProgress++;
    // A turn is for making progress, and a request started is progress.
    if (this.turn === member) this.turn = null;
  }

  requestEnded(bytes: number): void {
    this.requestsInProgress--;
    this.release(bytes);
  }

  release(bytes: number): void {
    this.used -= bytes;
    if (this.used < 0) throw new Error(`request memory pool released more than it held (${this.used})`);
    if (this.full) {
      this.unstick();
      return;
    }
    // With room in the pool nobody needs a turn; a turn kept would stop the next one being given.
    this.turn = null;
    this.wakeWaiters();
  }

  /** `member` stops reading until the pool has room or gives it the turn. */
  wait(member: PoolMember): void {
    this.waiting.add(member);
    this.unstick();
  }

  /** A closed connection, or one that cannot use a turn, leaves the queue and gives up its turn. */
  remove(member: PoolMember): void {
    this.waiting.delete(member);
    if (this.turn === member) {
      this.turn = null;
      this.unstick();
    }
  }

  /**
   * Full of partial frames with nothing in progress to free memory: the oldest waiter holding part of a frame
   * gets the turn.
   */
  private unstick(): void {
    if (this.turn !== null || !this.full || this.reservations > 0 || this.requestsInProgress > 0) return;
    for (const member of this.waiting) {
      if (!member.holdsPartialFrame) continue;
      this.waiting.delete(member);
      this.turn = member;
      member.resumeReading();
      return;
    }
  }

  /** Below the cap every waiter may read again, oldest first; each stops again when the cap is reached. */
  private wakeWaiters(): void {
    while (this.waiting.size > 0 && !this.full) {
      const next = this.waiting.values().next().value!;
      this.waiting.delete(next);
      next.resumeReading();
    }
  }
}
