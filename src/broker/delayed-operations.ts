interface Waiter {
  tryComplete: () => boolean;
  resolve: (completed: boolean) => void;
  timer: NodeJS.Timeout | null;
  keys: string[];
}

/**
 * Operations that wait for something to happen to a set of keys, or for a timeout (Kafka's purgatory):
 * a fetch waiting for min_bytes on its partitions, a produce waiting for its data to be replicated.
 * `notify(key)` re-checks the waiters of that key; each completes at most once.
 */
export class DelayedOperations {
  private readonly waiters = new Map<string, Set<Waiter>>();
  /** Every waiter, whether or not it watches a key: a stop must end them all, each holding a timer. */
  private readonly all = new Set<Waiter>();
  private closed = false;

  /**
   * Resolves true as soon as `tryComplete` returns true (checked now, then on every notify of one of
   * `keys`), or false after `timeoutMs`, or at once after `cancelAll`.
   */
  wait(keys: string[], timeoutMs: number, tryComplete: () => boolean): Promise<boolean> {
    if (tryComplete()) return Promise.resolve(true);
    if (timeoutMs <= 0 || this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter: Waiter = { tryComplete, resolve, timer: null, keys };
      waiter.timer = setTimeout(() => this.finish(waiter, false), timeoutMs);
      this.all.add(waiter);
      for (const key of keys) {
        let set = this.waiters.get(key);
        if (!set) {
          set = new Set();
          this.waiters.set(key, set);
        }
        set.add(waiter);
      }
    });
  }

  /** Something changed for `key`: waiters that can now complete do. */
  notify(key: string): void {
    const set = this.waiters.get(key);
    if (!set) return;
    for (const waiter of [...set]) {
      if (waiter.tryComplete()) this.finish(waiter, true);
    }
  }

  /**
   * Shutdown: completes every waiter now, as if timed out, and every later wait at once, so that no
   * timer outlives the broker (a handler still reading from disk may call `wait` after this).
   */
  cancelAll(): void {
    this.closed = true;
    for (const w of [...this.all]) this.finish(w, false);
  }

  get size(): number {
    return this.all.size;
  }

  private finish(waiter: Waiter, completed: boolean): void {
    if (waiter.timer) clearTimeout(waiter.timer);
    waiter.timer = null;
    this.all.delete(waiter);
    for (const key of waiter.keys) {
      const set = this.waiters.get(key);
      if (!set) continue;
      set.delete(waiter);
      if (set.size === 0) this.waiters.delete(key);
    }
    waiter.resolve(completed);
  }
}
