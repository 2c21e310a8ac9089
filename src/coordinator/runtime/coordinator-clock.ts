/** An opaque handle for a scheduled callback. */
export type TimerHandle = unknown;

/** Time as a coordinator sees it: injected so that tests run on a mock clock. */
export interface CoordinatorClock {
  now(): number;
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** The wall clock; its timers do not keep the process alive (a stop clears them anyway). */
export const systemClock: CoordinatorClock = {
  now: () => Date.now(),
  setTimeout(callback, delayMs) {
    const timer = setTimeout(callback, delayMs);
    timer.unref();
    return timer;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};
