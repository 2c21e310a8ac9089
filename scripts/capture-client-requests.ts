/**
 * Records the request frames that real clients send, as test fixtures.
 *
 *   npx tsx scripts/capture-client-requests.ts [client ...]     (clients: kcat kafka-python kafkajs platformatic)
 *
 * A Samsa broker runs in this process behind a recording TCP proxy; the broker advertises the proxy's port,
 * so every connection of the client passes through it. The first frame of each API and version per client is
 * written to test/fixtures/requests/<client>/<ApiName>-v<version>.bin (the frame without its size prefix).
 * Needs kcat and Debian's python3-kafka for those two clients.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startBroker } from '../src/broker/broker.js';
import {
  ApiKey,
  apiByKey,
  decodeApiVersionsResponse,
  decodeProduceRequest,
  decodeRequestHeader,
  decodeResponseHeader,
  encodeApiVersionsResponse,
  encodeResponseHeader,
  requestHeaderVersion,
} from '../src/protocol/generated/index.js';
import { Reader, Writer } from '../src/protocol/primitives/index.js';
import { KCAT_RECORDS, kcatValue } from '../test/protocol/kcat-payload.js';

const run = promisify(execFile);
const OUT = join(import.meta.dirname, '..', 'test', 'fixtures', 'requests');
const PYTHON = '/usr/bin/python3';

type ClientRun = (bootstrap: string) => Promise<void>;

const clients: Record<string, ClientRun> = {
  kcat: async (b) => {
    const lines = Array.from({ length: KCAT_RECORDS }, (_, i) => `k${i}:${kcatValue(i)}`).join('\n');
    for (const codec of ['none', 'gzip', 'snappy', 'lz4', 'zstd']) {
      const out = await run('sh', [
        '-c',
        `printf '%s\\n' "$0" | kcat -b ${b} -P -t kcat-${codec} -K : -z ${codec} -H h=x ${process.env['KCAT_DEBUG'] ?? ''}`,
        lines,
      ]);
      if (process.env['KCAT_DEBUG']) console.error(out.stderr);
    }
    await run('kcat', ['-b', b, '-C', '-t', 'kcat-none', '-o', 'beginning', '-e', '-q']);
    await run('kcat', ['-b', b, '-L']);
  },
  'kafka-python': async (b) => {
    const script = `
import sys
from kafka import KafkaProducer, KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
a = KafkaAdminClient(bootstrap_servers=sys.argv[1])
a.create_topics([NewTopic('py-topic', 2, 1)])
a.close()
p = KafkaProducer(bootstrap_servers=sys.argv[1], acks='all', compression_type='gzip')
p.send('py-topic', key=b'k', value=b'v', headers=[('h', b'x')], partition=0).get(10)
p.close()
c = KafkaConsumer(bootstrap_servers=sys.argv[1], group_id=None, consumer_timeout_ms=3000)
tp = TopicPartition('py-topic', 0)
c.assign([tp]); c.seek_to_beginning(tp)
next(c)
c.close()
`;
    await run(PYTHON, ['-c', script, b], { timeout: 60_000 });
  },
  kafkajs: async (b) => {
    const { Kafka, logLevel, CompressionTypes } = await import('kafkajs');
    const kafka = new Kafka({ clientId: 'capture', brokers: [b], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'js-topic', numPartitions: 2 }] });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: 'js-topic',
      compression: CompressionTypes.GZIP,
      messages: [{ key: 'k', value: 'v', headers: { h: 'x' } }],
    });
    await producer.disconnect();
    await admin.fetchTopicOffsets('js-topic');
    await admin.deleteTopics({ topics: ['js-topic'] });
    await admin.disconnect();
  },
  platformatic: async (b) => {
    const { Admin, Producer, stringSerializers } = await import('@platformatic/kafka');
    const admin = new Admin({ clientId: 'capture', bootstrapBrokers: [b] });
    await admin.createTopics({ topics: ['pl-topic'], partitions: 2, replicas: 1 });
    await admin.close();
    const producer = new Producer({ clientId: 'capture', bootstrapBrokers: [b], serializers: stringSerializers });
    await producer.send({ messages: [{ topic: 'pl-topic', key: 'k', value: 'v', headers: new Map([['h', 'x']]) }] });
    await producer.close();
  },
};

/** Splits a byte stream into Kafka frames (without their size prefix). */
function framer(onFrame: (frame: Buffer) => void): (chunk: Buffer) => void {
  let pending = Buffer.alloc(0);
  return (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
      const size = pending.readInt32BE(0);
      onFrame(Buffer.from(pending.subarray(4, 4 + size)));
      pending = pending.subarray(4 + size);
    }
  };
}

function withSize(frame: Buffer): Buffer {
  const prefix = Buffer.alloc(4);
  prefix.writeInt32BE(frame.length);
  return Buffer.concat([prefix, frame]);
}

/**
 * librdkafka compresses with gzip and snappy only when the broker advertises Produce and Fetch v2 (its
 * "MsgVer1" feature), and with lz4 only when it advertises FindCoordinator: Samsa implements neither yet.
 * For the recording only, ApiVersions answers are widened so that kcat compresses; it still picks
 * Produce v7, which the broker handles, and the requests recorded are the client's own bytes.
 */
function widenApiVersions(frame: Buffer, version: number): Buffer {
  const r = new Reader(frame);
  const header = decodeResponseHeader(r, 0);
  const body = decodeApiVersionsResponse(r, version);
  for (const key of [ApiKey.Produce, ApiKey.Fetch]) {
    const entry = body.apiKeys.find((k) => k.apiKey === key);
    if (entry) entry.minVersion = 0;
  }
  if (!body.apiKeys.some((k) => k.apiKey === ApiKey.FindCoordinator)) {
    body.apiKeys.push({ apiKey: ApiKey.FindCoordinator, minVersion: 0, maxVersion: 0 });
    body.apiKeys.sort((a, b) => a.apiKey - b.apiKey);
  }
  const w = new Writer();
  encodeResponseHeader(w, 0, header);
  encodeApiVersionsResponse(w, version, body);
  return w.toBuffer();
}

/** A proxy that forwards to `target` and hands every client-to-broker frame to `record`. */
async function recordingProxy(
  targetPort: () => number,
  record: (frame: Buffer) => void,
): Promise<{ port: number; close: () => void }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(targetPort(), '127.0.0.1');
    sockets.add(client).add(upstream);
    /** Versions of the ApiVersions requests in flight, by correlation id. */
    const apiVersionsRequests = new Map<number, number>();
    client.on(
      'data',
      framer((frame) => {
        if (frame.readInt16BE(0) === ApiKey.ApiVersions)
          apiVersionsRequests.set(frame.readInt32BE(4), frame.readInt16BE(2));
        record(frame);
        upstream.write(withSize(frame));
      }),
    );
    upstream.on(
      'data',
      framer((frame) => {
        const version = apiVersionsRequests.get(frame.readInt32BE(0));
        client.write(withSize(version === undefined ? frame : widenApiVersions(frame, version)));
      }),
    );
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

async function capture(name: string, client: ClientRun): Promise<void> {
  const dir = join(OUT, name);
  mkdirSync(dir, { recursive: true });
  const seen = new Set<string>();
  let brokerPort = 0;
  const proxy = await recordingProxy(
    () => brokerPort,
    (frame) => {
      const apiKey = frame.readInt16BE(0);
      const version = frame.readInt16BE(2);
      // Produce requests are kept per topic: the kcat topics each hold one compression codec.
      let suffix = '';
      if (apiKey === ApiKey.Produce) {
        const r = new Reader(frame);
        decodeRequestHeader(r, requestHeaderVersion(apiKey, version));
        suffix = `-${decodeProduceRequest(r, version).topicData[0]?.name ?? ''}`;
      }
      const file = `${apiByKey.get(apiKey)?.name ?? `Api${apiKey}`}-v${version}${suffix}.bin`;
      if (seen.has(file)) return;
      seen.add(file);
      writeFileSync(join(dir, file), frame);
    },
  );
  const broker = await startBroker({ advertisedPort: proxy.port });
  brokerPort = broker.port;
  try {
    await client(`127.0.0.1:${proxy.port}`);
  } finally {
    proxy.close();
    await broker.stop();
  }
  console.log(`${name}: ${[...seen].sort().join(', ')}`);
}

const wanted = process.argv.slice(2);
for (const [name, client] of Object.entries(clients)) {
  if (wanted.length === 0 || wanted.includes(name)) await capture(name, client);
}
