/** One line of the bench table: a figure, and where there is one, the machine's own limit for it. */
export interface BenchRow {
  workload: string;
  figure: number;
  unit: string;
  /** The machine's own limit for this kind of work, measured in the same run (same unit as `figure`). */
  limit?: number;
  limitName?: string;
  /** What else bounds the figure (the client's own ceiling, the producer's rate), printed after the ratio. */
  note?: string;
  /** The broker's largest RSS during the workload, MB (JSON only). */
  rssMaxMB?: number;
  /** The broker's event-loop delay during the workload, milliseconds (JSON only). */
  eventLoopDelayMs?: { p50: number; p99: number; max: number; memory?: Record<string, number> };
}

/** Runs `fn` repeatedly for at least `minMs` after a warm-up; returns the number of calls per second. */
export function rate(fn: () => void, minMs = 500): number {
  const warmUntil = performance.now() + minMs / 5;
  while (performance.now() < warmUntil) fn();
  let calls = 0;
  const start = performance.now();
  let now = start;
  while (now - start < minMs) {
    for (let i = 0; i < 16; i++) fn();
    calls += 16;
    now = performance.now();
  }
  return (calls * 1000) / (now - start);
}

/** memcpy bandwidth in MB/s: Buffer.copy of 1 MiB blocks, the ceiling for any in-memory byte work. */
export function memcpyMBps(minMs = 500): number {
  const size = 1 << 20;
  const src = Buffer.alloc(size, 7);
  const dst = Buffer.allocUnsafe(size);
  return (rate(() => src.copy(dst), minMs) * size) / 1e6;
}

export function formatTable(rows: BenchRow[]): string {
  const header = ['workload', 'figure', 'limit', 'ratio', 'note'];
  const lines = rows.map((r) => [
    r.workload,
    `${r.figure.toFixed(r.figure < 10 ? 2 : 0)} ${r.unit}`,
    // Limits under 10 (latencies in ms) keep two decimals, as figures do.
    r.limit === undefined ? '' : `${r.limit.toFixed(r.limit < 10 ? 2 : 0)} ${r.unit} (${r.limitName ?? 'limit'})`,
    r.limit === undefined ? '' : `${((r.figure / r.limit) * 100).toFixed(1)}%`,
    r.note ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [fmt(header), fmt(widths.map((w) => '-'.repeat(w))), ...lines.map(fmt)].join('\n');
}
