/** Kafka's quota.window.num and quota.window.size.seconds defaults. */
export const QUOTA_WINDOW_NUM = 11;
export const QUOTA_WINDOW_SIZE_MS = 1_000;

/**
 * A rate over a sliding window of samples (Kafka's Rate over a SampledStat): the sum of the samples divided by
 * the time they cover, counted as at least all but one full sample so that a first burst is not measured over
 * a few milliseconds.
 */
export class SampledRate {
  private readonly starts: number[];
  private readonly values: number[];
  private current = 0;

  constructor(
    private readonly samples = QUOTA_WINDOW_NUM,
    private readonly sampleMs = QUOTA_WINDOW_SIZE_MS,
  ) {
    this.starts = new Array<number>(samples).fill(Number.NEGATIVE_INFINITY);
    this.values = new Array<number>(samples).fill(0);
  }

  record(value: number, nowMs: number): void {
    if (nowMs >= this.starts[this.current]! + this.sampleMs) {
      this.current = (this.current + 1) % this.samples;
      this.starts[this.current] = nowMs;
      this.values[this.current] = 0;
    }
    this.values[this.current]! += value;
  }

  /** Takes back what `record` added (a throttled fetch sends no data, so its bytes do not count). */
  unrecord(value: number): void {
    this.values[this.current]! -= value;
  }

  /** Per second. */
  rate(nowMs: number): number {
    return (this.total(nowMs) * 1000) / this.windowMs(nowMs);
  }

  /** The time the samples cover, as the rate counts it. */
  windowMs(nowMs: number): number {
    let oldest = nowMs;
    for (let i = 0; i < this.samples; i++) {
      if (this.isLive(i, nowMs)) oldest = Math.min(oldest, this.starts[i]!);
    }
    let elapsed = nowMs - oldest;
    const fullWindows = Math.floor(elapsed / this.sampleMs);
    const minFullWindows = this.samples - 1;
    if (fullWindows < minFullWindows) elapsed += (minFullWindows - fullWindows) * this.sampleMs;
    return elapsed;
  }

  private total(nowMs: number): number {
    let sum = 0;
    for (let i = 0; i < this.samples; i++) if (this.isLive(i, nowMs)) sum += this.values[i]!;
    return sum;
  }

  /** Samples older than the whole window no longer count. */
  private isLive(i: number, nowMs: number): boolean {
    return this.starts[i]! > nowMs - this.samples * this.sampleMs;
  }
}

/**
 * Kafka's QuotaUtils.throttleTime: the wait that brings `rate` back to `bound` over the rate's window, or 0
 * within it.
 */
export function rateThrottleTimeMs(rate: SampledRate, bound: number, nowMs: number): number {
  const value = rate.rate(nowMs);
  if (value <= bound) return 0;
  return Math.round(((value - bound) / bound) * rate.windowMs(nowMs));
}
