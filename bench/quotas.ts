/**
 * `npx tsx bench/quotas.ts [--quick]`: what the request and connection quotas cost and how closely they hold.
 *
 * - Request path: Metadata requests one after another on one connection, with no quota at all, with quotas that
 *   apply to another client id only (the quota is looked up on every request), and with a request_percentage
 *   that applies but is never reached (the handler time is measured and counted on every request), in turns;
 *   the quota rows are given as a ratio of the row without quotas of the same round.
 * - Byte rate: librdkafka's load generator produces 1 KiB records under a producer_byte_rate, twice from fresh
 *   client ids (a short and a long run); the difference of the two is the rate held once the first window's burst
 *   is spent, against the quota.
 * - Connection creation rate (KIP-612): connections opened one after another (each answers one ApiVersions) on
 *   a listener with listener.name.<l>.max.connection.creation.rate, and by several clients from an address with
 *   a connection_creation_rate quota; the rate accepted after the first window, against the bound.
 */
import { connect, type Socket } from 'node:net';
import { Admin } from '@platformatic/kafka';
import { startBroker } from '../src/index.js';
import { apis, decodeResponseHeader, encodeRequestHeader } from '../src/protocol/generated/index.js';
import { Reader, Writer } from '../src/protocol/primitives/index.js';
import { buildLoadgen, loadgen } from './broker.js';
import { type BenchRow, formatTable } from './lib.js';

const quick = process.argv.includes('--quick');
const REQUESTS = quick ? 5_000 : 20_000;
const ROUNDS = quick ? 1 : 3;
const LISTENER_RATE = 50;
const IP_RATE = 20;
/** producer_byte_rate for the byte-rate row, and the records produced in its two runs (1 KiB each). */
const BYTE_RATE = 1024 * 1024;
const RECORD_BYTES = 1024;
const SHORT_RUN_RECORDS = quick ? 15_000 : 20_000;
const LONG_RUN_RECORDS = quick ? 25_000 : 50_000;

/** One connection sending requests one after another, each waiting for its answer. */
class Client {
  private buffered: Buffer = Buffer.alloc(0);
  private waiting: ((frame: Buffer | null) => void) | null = null;
  private correlationId = 0;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      if (this.buffered.length >= 4 && this.buffered.length >= 4 + this.buffered.readInt32BE(0)) {
        const frame = this.buffered.subarray(4, 4 + this.buffered.readInt32BE(0));
        this.buffered = this.buffered.subarray(4 + frame.length);
        const w = this.waiting;
        this.waiting = null;
        w?.(frame);
      }
    });
    socket.on('close', () => this.waiting?.(null));
    socket.on('error', () => {});
  }

  static open(port: number, localAddress?: string): Promise<Client> {
    const socket = connect({ port, host: '127.0.0.1', ...(localAddress ? { localAddress } : {}) });
    return new Promise((resolve, reject) =>
      socket.once('connect', () => resolve(new Client(socket))).once('error', reject),
    );
  }

  /** Sends a request; resolves with its answer's body, or null when the broker closes the connection. */
  request(clientId: string, api: 'Metadata' | 'ApiVersions'): Promise<Buffer | null> {
    const w = new Writer();
    const version = api === 'Metadata' ? 12 : 3;
    const codec = api === 'Metadata' ? apis.Metadata : apis.ApiVersions;
    encodeRequestHeader(w, 2, {
      requestApiKey: codec.key,
      requestApiVersion: version,
      correlationId: ++this.correlationId,
      clientId,
    });
    if (api === 'Metadata')
      apis.Metadata.encodeRequest(w, version, {
        topics: [],
        allowAutoTopicCreation: false,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      });
    else apis.ApiVersions.encodeRequest(w, version, { clientSoftwareName: 'bench', clientSoftwareVersion: '1' });
    const body = w.toBuffer();
    const frame = Buffer.allocUnsafe(4 + body.length);
    frame.writeInt32BE(body.length, 0);
    body.copy(frame, 4);
    return new Promise<Buffer | null>((resolve) => {
      this.waiting = resolve;
      this.socket.write(frame);
    }).then((f) => {
      if (f) decodeResponseHeader(new Reader(f), api === 'ApiVersions' ? 0 : 1);
      return f;
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

async function requestsPerSecond(port: number, clientId: string): Promise<number> {
  const c = await Client.open(port);
  try {
    for (let i = 0; i < 500; i++) await c.request(clientId, 'Metadata');
    const started = process.hrtime.bigint();
    for (let i = 0; i < REQUESTS; i++) await c.request(clientId, 'Metadata');
    return REQUESTS / (Number(process.hrtime.bigint() - started) / 1e9);
  } finally {
    c.close();
  }
}

/** The first quota window: 11 samples of 1 s hold 10 s of the rate at first, so a burst passes. */
const BURST_WINDOW_MS = 11_000;
const MEASURED_MS = quick ? 15_000 : 40_000;

/**
 * `clients` loops open connections one after another (each answering one ApiVersions) for the first window and
 * MEASURED_MS more; the rate of the connections accepted after the first window (the rate is bursty over
 * seconds, as Kafka's sampled rate is, and holds over tens of seconds), and how many were closed unanswered.
 */
async function acceptedRate(port: number, clients: number, localAddress?: string) {
  const startedMs = Date.now();
  const endMs = startedMs + BURST_WINDOW_MS + MEASURED_MS;
  let accepted = 0;
  let refused = 0;
  const loop = async () => {
    while (Date.now() < endMs) {
      const c = await Client.open(port, localAddress);
      const answer = await c.request('conn-bench', 'ApiVersions');
      c.close();
      const nowMs = Date.now();
      if (nowMs < startedMs + BURST_WINDOW_MS || nowMs >= endMs) continue;
      if (answer === null) refused++;
      else accepted++;
    }
  };
  await Promise.all(Array.from({ length: clients }, loop));
  return { rate: accepted / (MEASURED_MS / 1000), refused };
}

async function main(): Promise<void> {
  const rows: BenchRow[] = [];
  const broker = await startBroker({
    listeners: [
      { name: 'PLAINTEXT', host: '127.0.0.1', port: 0, advertisedHost: '127.0.0.1', advertisedPort: 0 },
      {
        name: 'LIMITED',
        host: '127.0.0.1',
        port: 0,
        advertisedHost: '127.0.0.1',
        advertisedPort: 0,
        maxConnectionCreationRate: LISTENER_RATE,
      },
    ],
  });
  const [plain, limited] = broker.settings.listeners!.map((l) => l.port) as [number, number];
  const admin = new Admin({ clientId: 'bench-admin', bootstrapBrokers: [`127.0.0.1:${plain}`] });
  const alter = (entity: Array<{ entityType: string; entityName: string | null }>, key: string, value: number | null) =>
    admin.alterClientQuotas({
      entries: [
        {
          entities: entity as never,
          ops: [value === null ? { key: key as never, remove: true } : { key: key as never, value, remove: false }],
        },
      ],
    });
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const none = await requestsPerSecond(plain, 'measured');
      await alter([{ entityType: 'client-id', entityName: 'someone-else' }], 'request_percentage', 10);
      const elsewhere = await requestsPerSecond(plain, 'measured');
      await alter([{ entityType: 'client-id', entityName: 'measured' }], 'request_percentage', 100_000);
      const applying = await requestsPerSecond(plain, 'measured');
      await alter([{ entityType: 'client-id', entityName: 'measured' }], 'request_percentage', null);
      await alter([{ entityType: 'client-id', entityName: 'someone-else' }], 'request_percentage', null);
      rows.push({ workload: `round ${round}: Metadata, one at a time, no quota`, figure: none, unit: 'req/s' });
      rows.push({
        workload: `round ${round}: Metadata, a quota for another client id`,
        figure: elsewhere,
        unit: 'req/s',
        limit: none,
        limitName: 'no quota',
      });
      rows.push({
        workload: `round ${round}: Metadata, request_percentage applies (never reached)`,
        figure: applying,
        unit: 'req/s',
        limit: none,
        limitName: 'no quota',
      });
    }
    await buildLoadgen();
    const runs: Array<{ bytes: number; seconds: number }> = [];
    for (const [i, records] of [SHORT_RUN_RECORDS, LONG_RUN_RECORDS].entries()) {
      const id = `byte-rate-${i}`;
      await alter([{ entityType: 'client-id', entityName: id }], 'producer_byte_rate', BYTE_RATE);
      process.env.LOADGEN_CONFIG = `client.id=${id}`;
      try {
        runs.push(
          await loadgen([
            'produce',
            `127.0.0.1:${plain}`,
            `quota-${id}`,
            String(records),
            String(RECORD_BYTES),
            '1',
            'none',
            '1',
          ]),
        );
      } finally {
        delete process.env.LOADGEN_CONFIG;
      }
    }
    const [short, long] = runs as [{ bytes: number; seconds: number }, { bytes: number; seconds: number }];
    rows.push({
      workload: `produce 1 KiB, producer_byte_rate=${BYTE_RATE}, after the first window`,
      figure: (long.bytes - short.bytes) / (long.seconds - short.seconds) / 1024,
      unit: 'KiB/s',
      limit: BYTE_RATE / 1024,
      limitName: 'quota',
      note: `${(short.bytes / 1024 / 1024).toFixed(0)} MiB in ${short.seconds.toFixed(1)} s, ${(long.bytes / 1024 / 1024).toFixed(0)} MiB in ${long.seconds.toFixed(1)} s`,
    });
    const listener = await acceptedRate(limited, 1);
    rows.push({
      workload: `connections accepted after the burst, listener max.connection.creation.rate=${LISTENER_RATE}`,
      figure: listener.rate,
      unit: 'conn/s',
      limit: LISTENER_RATE,
      limitName: 'bound',
      note: `${listener.refused} refused`,
    });
    await alter([{ entityType: 'ip', entityName: '127.0.0.3' }], 'connection_creation_rate', IP_RATE);
    // Several clients at once: a refused connection holds its client until it is closed (up to 1 s).
    const ip = await acceptedRate(plain, 8, '127.0.0.3');
    rows.push({
      workload: `connections accepted after the burst, connection_creation_rate=${IP_RATE} on the address`,
      figure: ip.rate,
      unit: 'conn/s',
      limit: IP_RATE,
      limitName: 'bound',
      note: `${ip.refused} closed unanswered`,
    });
  } finally {
    await admin.close();
    await broker.stop();
  }
  console.log(formatTable(rows));
}

await main();
