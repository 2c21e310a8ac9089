/**
 * Durable latency (`--only latency`): acks=all end-to-end latency of 1 KiB records at 5,000 records/s, alone, at
 * half the acks=all peak measured on the same broker, and at 5,000 records/s beside a bulk producer (1 KiB records,
 * acks=1, batches of up to 1 MB, on another topic, running for the whole measurement), each percentile beside
 * the machine's own floor: 1 KiB append + fdatasync rounds run back to back on the same disk (the temporary
 * directory, where the broker's data directory is too), and how long a request arriving at any moment waits for
 * the first round after it to end, measured in the same run, alone and under the same bulk load.
 */

import { clientAckFromSink, createTopic, type LoadResult, loadgen, writeBackDirtyPages } from './broker.js';
import { startBrokerProcess } from './broker-process.js';
import type { BenchRow } from './lib.js';
import { type Percentiles, syncAppendLatencyMs } from './machine.js';
import { WireClient } from './wire.js';

/** The machine's append + fdatasync rounds: per round, and as waited by a request arriving at any moment. */
export interface SyncLatency extends Percentiles {
  waited: Percentiles;
}

export interface LatencySuiteOptions {
  quick: boolean;
  /** The machine's append + fdatasync latency when the run has measured it already (else measured here). */
  sync?: SyncLatency;
}

const RATE = 5000;
/** The goals: acks=all p99 at 5,000 records/s alone, and beside a bulk producer (docs/PERFORMANCE.md). */
const GOAL_ALONE_MS = 5;
const GOAL_BESIDE_MS = 25;

export async function latencySuite({ quick, sync }: LatencySuiteOptions): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const seconds = quick ? 3 : 10;
  const syncCount = quick ? 1000 : 5000;
  if (!sync) {
    sync = await syncAppendLatencyMs(syncCount);
    rows.push(...syncRows('machine: append 1 KiB + fdatasync, latency', sync), ...waitedRows(sync));
  }
  const broker = await startBrokerProcess();
  const admin = await WireClient.connect(broker.port);
  try {
    for (const topic of ['durable-alone', 'durable-peak', 'durable-half', 'durable-beside', 'bulk', 'bulk-machine'])
      await createTopic(admin, topic, 1);
    await broker.eventLoopDelay();

    await writeBackDirtyPages();
    const alone = await measure(broker.bootstrap, 'durable-alone', RATE, seconds);
    rows.push(...latencyRows(RATE, 'alone', alone, sync, GOAL_ALONE_MS, await broker.eventLoopDelay()));

    // At half the peak: the acks=all peak of 1 KiB records in large batches, measured here on this broker.
    const peakCount = quick ? 300_000 : 1_000_000;
    const peak = await loadgen([
      'produce',
      broker.bootstrap,
      'durable-peak',
      String(peakCount),
      '1024',
      'all',
      'none',
      '1',
    ]);
    const half = Math.max(1000, Math.round(peak.messages / peak.seconds / 2));
    // The same producer at the same rate against the discarding sink: the client's own share of the latency.
    const clientAlone = (await clientAckFromSink([half], seconds)).get(half)!;
    await writeBackDirtyPages();
    const atHalf = await measure(broker.bootstrap, 'durable-half', half, seconds);
    rows.push(
      ...latencyRows(
        half,
        'alone, half the acks=all peak of this run',
        atHalf,
        sync,
        GOAL_ALONE_MS,
        await broker.eventLoopDelay(),
        clientAlone,
      ),
    );

    // The machine's own fdatasync latency under the same bulk load, first: the floor of the broker's row after it.
    await writeBackDirtyPages();
    const machineBulk = timed(loadgen(['bulk', broker.bootstrap, 'bulk-machine', String(seconds + 2), '1024', '1']));
    machineBulk.catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 1000));
    // For as long as the broker's run below (not a count of appends: a thousand took under a second, before the
    // kernel's write-back of the bulk data had begun).
    const loaded = await syncAppendLatencyMs(Number.MAX_SAFE_INTEGER, seconds * 1000);
    const machineBulkDone = await machineBulk;
    const machineBulkMBps = machineBulkDone.result.bytes / 1e6 / machineBulkDone.result.seconds;
    const machineName = `beside the bulk producer into the broker (${Math.round(machineBulkMBps)} MB/s; ${loaded.count} appends)`;
    rows.push(
      ...syncRows(`machine: append 1 KiB + fdatasync ${machineName}, latency`, loaded),
      ...waitedRows(loaded, machineName),
    );

    // Beside the bulk producer: it starts a second ahead and is given time enough to outlast the measurement
    // (the latency run adds a warm-up record and a second for its consumer to settle); checked below.
    await writeBackDirtyPages();
    const bulkSeconds = seconds + 5;
    const bulk = timed(loadgen(['bulk', broker.bootstrap, 'bulk', String(bulkSeconds), '1024', '1']));
    bulk.catch(() => {}); // awaited below; a failure of the measurement first must not leave it unhandled
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const beside = await timed(measure(broker.bootstrap, 'durable-beside', RATE, seconds));
    const bulkDone = await bulk;
    const bulkMBps = bulkDone.result.bytes / 1e6 / bulkDone.result.seconds;
    // On a machine too busy for the margin, the row says that the bulk producer ended first rather than failing.
    const endedEarly =
      bulkDone.endedMs < beside.endedMs
        ? `, ended ${((beside.endedMs - bulkDone.endedMs) / 1000).toFixed(1)} s before the measurement`
        : '';
    const besideName = `beside a bulk producer (1 KiB, acks=1, ~1 MB batches, another topic, ${Math.round(bulkMBps)} MB/s${endedEarly})`;
    rows.push(...latencyRows(RATE, besideName, beside.result, loaded, GOAL_BESIDE_MS, await broker.eventLoopDelay()));
  } finally {
    admin.close();
    await broker.stop();
  }
  return rows;
}

function syncRows(name: string, s: Percentiles): BenchRow[] {
  return [
    { workload: `${name} p50`, figure: s.p50, unit: 'ms' },
    { workload: `${name} p99`, figure: s.p99, unit: 'ms' },
    { workload: `${name} p99.9`, figure: s.p999, unit: 'ms' },
  ];
}

async function measure(bootstrap: string, topic: string, rate: number, seconds: number): Promise<LoadResult> {
  const r = await loadgen(['latency', bootstrap, topic, String(rate), String(seconds), '1024', 'all']);
  if (r.messages < seconds * rate * 0.99) throw new Error(`latency ${topic}: only ${r.messages} records arrived`);
  return r;
}

async function timed<T>(p: Promise<T>): Promise<{ result: T; endedMs: number }> {
  const result = await p;
  return { result, endedMs: performance.now() };
}

/** The machine's floor for durable latency: a request waiting for the next append + fdatasync round to end. */
export function waitedRows(s: SyncLatency, beside = ''): BenchRow[] {
  return syncRows(
    `machine: a request waiting for the next 1 KiB append + fdatasync round${beside ? ` ${beside}` : ''}, latency`,
    s.waited,
  );
}

/**
 * p50, p99 and p99.9, each beside the machine's floor at the same percentile: the wait for the next append +
 * fdatasync round, measured alone or beside the same bulk load.
 */
function latencyRows(
  rate: number,
  name: string,
  r: LoadResult,
  sync: SyncLatency,
  goalMs: number,
  eld: BenchRow['eventLoopDelayMs'],
  clientAlone?: LoadResult,
): BenchRow[] {
  const alone = (q: 'ackP50' | 'ackP99') =>
    clientAlone ? `; client alone (ack from the sink) ${clientAlone[q]?.toFixed(2)} ms` : '';
  return (
    [
      ['p50', r.p50, sync.waited.p50, `produce ack p50 ${r.ackP50?.toFixed(2)} ms${alone('ackP50')}`],
      [
        'p99',
        r.p99,
        sync.waited.p99,
        `goal ${goalMs} ms; produce ack p99 ${r.ackP99?.toFixed(1)} ms${alone('ackP99')}`,
      ],
      ['p99.9', r.p999, sync.waited.p999, `max ${r.max?.toFixed(1)} ms`],
    ] as const
  ).map(([q, figure, limit, note]) => ({
    workload: `durable latency ${q}, 1 KiB at ${rate.toLocaleString('en-US')} rec/s, acks=all, ${name}`,
    figure: figure ?? 0,
    unit: 'ms',
    limit,
    limitName: `next fdatasync round ${q}`,
    note,
    eventLoopDelayMs: eld,
  }));
}
