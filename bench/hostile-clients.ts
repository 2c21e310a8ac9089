/**
 * Peak memory of a broker under two hostile clients, with the bounds on and with them off (Kafka's unbounded
 * settings, as the broker behaved before it had them):
 * - three Fetch requests at once asking for 2^31-1 bytes of a topic holding more than that would fit in memory
 *   three times (fetch.max.bytes);
 * - ten connections each sending all but the last byte of a 95 MiB request frame (queued.max.request.bytes);
 * - one connection sending 30 such Fetches at once and reading none of the answers (one Fetch of a connection
 *   is read at a time, once the answers before it were written).
 *
 * Usage: npx tsx bench/hostile-clients.ts [topic MiB, default 400] [pipelined]
 * Prints the broker's peak RSS (VmHWM) for each probe and setting.
 */
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { apis, encodeRequestHeader, requestHeaderVersion } from '../src/protocol/generated/index.js';
import { Writer } from '../src/protocol/primitives/index.js';
import { buildRecordBatch } from '../src/protocol/records/record-batch-builder.js';
import { buildDist, startBrokerProcess } from './broker-process.js';
import { WireClient } from './wire.js';

const MIB = 1024 * 1024;
const INT32_MAX = 2 ** 31 - 1;
const TOPIC_MIB = Number(process.argv[2] ?? 400);
/** Bytes of one produced batch: under message.max.bytes' default. */
const BATCH_VALUE_BYTES = 1000 * 1000;
const PARTIAL_FRAME_BYTES = 95 * MIB;
/** Fetches one connection sends at once without reading the answers. */
const PIPELINED_FETCHES = 30;

function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

function connectSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

function fetchFrame(topic: string): Buffer {
  const w = new Writer();
  encodeRequestHeader(w, requestHeaderVersion(apis.Fetch.key, 4), {
    requestApiKey: apis.Fetch.key,
    requestApiVersion: 4,
    correlationId: 1,
    clientId: 'hostile',
  });
  apis.Fetch.encodeRequest(w, 4, {
    clusterId: null,
    replicaId: -1,
    replicaState: { replicaId: -1, replicaEpoch: -1n },
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: INT32_MAX,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic,
        topicId: 'AAAAAAAAAAAAAAAAAAAAAA',
        partitions: [
          {
            partition: 0,
            currentLeaderEpoch: -1,
            fetchOffset: 0n,
            lastFetchedEpoch: -1,
            logStartOffset: -1n,
            partitionMaxBytes: INT32_MAX,
            replicaDirectoryId: 'AAAAAAAAAAAAAAAAAAAAAA',
          },
        ],
      },
    ],
    forgottenTopicsData: [],
    rackId: '',
  });
  const payload = w.toBuffer();
  const prefix = Buffer.alloc(4);
  prefix.writeInt32BE(payload.length);
  return Buffer.concat([prefix, payload]);
}

/** Sends one Fetch and reads its response to the end without keeping it; resolves with its size. */
async function fetchAndDiscard(port: number, topic: string): Promise<number> {
  const socket = await connectSocket(port);
  return new Promise((resolve) => {
    let expected = -1;
    let got = 0;
    let head = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      if (expected < 0) {
        head = Buffer.concat([head, chunk]);
        if (head.length < 4) return;
        expected = head.readInt32BE(0) + 4;
        got = head.length;
      } else got += chunk.length;
      if (got >= expected) {
        socket.destroy();
        resolve(expected - 4);
      }
    });
    socket.write(fetchFrame(topic));
  });
}

async function probeFetch(
  properties: Record<string, string>,
): Promise<{ beforeFetches: number; peak: number; responses: number[] }> {
  const broker = await startBrokerProcess({ properties });
  try {
    const client = await WireClient.connect(broker.port);
    await client.request(apis.CreateTopics, 7, {
      topics: [{ name: 'big', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 5000,
      validateOnly: false,
    });
    const batch = buildRecordBatch([{ key: null, value: Buffer.alloc(BATCH_VALUE_BYTES, 0x61), timestamp: 1n }]);
    const batches = Math.ceil((TOPIC_MIB * MIB) / batch.length);
    for (let i = 0; i < batches; i++) {
      await client.request(apis.Produce, 9, {
        transactionalId: null,
        acks: 1,
        timeoutMs: 5000,
        topicData: [{ name: 'big', partitionData: [{ index: 0, records: batch }] }],
      });
    }
    client.close();
    const beforeFetches = peakRss(broker.pid);
    const responses = await Promise.all([1, 2, 3].map(() => fetchAndDiscard(broker.port, 'big')));
    return { beforeFetches, peak: peakRss(broker.pid), responses };
  } finally {
    await broker.stop();
  }
}

/** One connection sends `count` Fetches of 2^31-1 bytes at once and reads none of the answers. */
async function probePipelinedFetches(properties: Record<string, string>, count: number): Promise<number> {
  const broker = await startBrokerProcess({ properties });
  let socket: Socket | null = null;
  try {
    const client = await WireClient.connect(broker.port);
    await client.request(apis.CreateTopics, 7, {
      topics: [{ name: 'big', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 5000,
      validateOnly: false,
    });
    const batch = buildRecordBatch([{ key: null, value: Buffer.alloc(BATCH_VALUE_BYTES, 0x61), timestamp: 1n }]);
    for (let i = 0; i < Math.ceil((100 * MIB) / batch.length); i++) {
      await client.request(apis.Produce, 9, {
        transactionalId: null,
        acks: 1,
        timeoutMs: 5000,
        topicData: [{ name: 'big', partitionData: [{ index: 0, records: batch }] }],
      });
    }
    client.close();
    socket = await connectSocket(broker.port);
    socket.pause();
    const frame = fetchFrame('big');
    socket.write(Buffer.concat(Array.from({ length: count }, () => frame)));
    let peak = 0;
    for (let stable = 0; stable < 10; ) {
      await sleep(200);
      const now = peakRss(broker.pid);
      stable = now === peak ? stable + 1 : 0;
      peak = now;
    }
    return peak;
  } finally {
    socket?.destroy();
    await broker.stop();
  }
}

async function probePartialFrames(properties: Record<string, string>): Promise<number> {
  const broker = await startBrokerProcess({ properties });
  const sockets: Socket[] = [];
  try {
    const body = Buffer.alloc(PARTIAL_FRAME_BYTES - 1, 0x61);
    const prefix = Buffer.alloc(4);
    prefix.writeInt32BE(PARTIAL_FRAME_BYTES);
    const flushed: Array<Promise<void>> = [];
    for (let i = 0; i < 10; i++) {
      const socket = await connectSocket(broker.port);
      socket.on('error', () => {});
      sockets.push(socket);
      socket.write(prefix);
      // Resolves once the bytes left this process: a broker that stops reading leaves them queued here.
      flushed.push(new Promise((resolve) => socket.write(body, () => resolve())));
    }
    // Whatever the broker reads, it has read once its peak stops growing for a while.
    let peak = 0;
    for (let stable = 0; stable < 10; ) {
      await Promise.race([Promise.all(flushed), sleep(200)]);
      const now = peakRss(broker.pid);
      stable = now === peak ? stable + 1 : 0;
      peak = now;
    }
    return peak;
  } finally {
    for (const s of sockets) s.destroy();
    await broker.stop();
  }
}

const UNBOUNDED = { 'fetch.max.bytes': String(INT32_MAX), 'queued.max.request.bytes': '-1' };
const mib = (n: number) => `${(n / MIB).toFixed(0)} MiB`;

/** `pipelined` as the second argument runs that probe alone, with the defaults. */
const ONLY_PIPELINED = process.argv[3] === 'pipelined';

await buildDist();
if (ONLY_PIPELINED) {
  console.log(
    `${PIPELINED_FETCHES} pipelined fetches, none read: peak RSS ${mib(await probePipelinedFetches({}, PIPELINED_FETCHES))}`,
  );
  process.exit(0);
}
for (const [name, properties] of [
  ['unbounded (Kafka -1 / 2^31-1)', UNBOUNDED],
  ['defaults (55 MiB / 100 MiB)', {}],
] as const) {
  const fetch = await probeFetch(properties);
  const partial = await probePartialFrames(properties);
  const pipelined = await probePipelinedFetches(properties, PIPELINED_FETCHES);
  console.log(
    `${name}: 3 fetches of 2^31-1 bytes from ${TOPIC_MIB} MiB: peak RSS ${mib(fetch.peak)} ` +
      `(${mib(fetch.beforeFetches)} after producing) ` +
      `(responses ${fetch.responses.map(mib).join(', ')}); 10 partial 95 MiB frames: peak RSS ${mib(partial)}; ` +
      `${PIPELINED_FETCHES} pipelined fetches, none read: peak RSS ${mib(pipelined)}`,
  );
}
