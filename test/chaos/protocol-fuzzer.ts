import { connect } from 'node:net';
import { join } from 'node:path';
import fc from 'fast-check';
import { Kafka, logLevel } from 'kafkajs';
import { apiByKey, apis, encodeRequestHeader, requestHeaderVersion } from '../../src/protocol/generated/index.js';
import { schemas } from '../../src/protocol/generated/schema.js';
import { Writer } from '../../src/protocol/primitives/index.js';
import { createTopics } from '../integration/clients.js';
import { messageArb } from '../protocol/schema-arbitrary.js';
import {
  BrokerProcess,
  freePort,
  mib,
  printFigures,
  RawClient,
  Rng,
  withTempDir,
  withTimeout,
  writeServerProperties,
} from './harness.js';

/**
 * Probe 4: the protocol fuzzer. Valid requests for every API and version the broker advertises (built from
 * Kafka's schemas with the generated codecs) are mutated (bit flips, truncation, wrong sizes, wrong API keys and
 * versions, huge lengths, random frames) and sent on many connections, while a well-behaved KafkaJS producer
 * and consumer beside them produce and read back their own records. The broker must never crash or hang, the
 * good client must never be disturbed, and the broker's peak RSS must stay bounded. Every choice comes from the
 * printed seed.
 */
export interface FuzzOptions {
  seed: number;
  seconds: number;
  connections: number;
}

export interface FuzzResult {
  seed: number;
  framesSent: number;
  framesPerSecond: number;
  seedRequests: number;
  apisFuzzed: number;
  goodAcknowledged: number;
  goodReadBack: number;
  /** What went wrong: a crash, a hang, the good client disturbed, RSS past its bound. */
  problems: string[];
  /** Set when the broker did not exit after SIGTERM once the fuzzing ended. */
  stopHung: string | null;
  peakRssBytes: number;
}

/** The broker's peak RSS may not pass this while fuzzed (its idle footprint is about a quarter of it). */
export const PEAK_RSS_LIMIT_BYTES = 400 * 1024 * 1024;
/** Valid requests generated per API version, as seeds for the mutations. */
const SEEDS_PER_VERSION = 4;
/** Frames a fuzzing connection sends before it closes and a new one opens. */
const MAX_FRAMES_PER_CONNECTION = 16;
/** A fuzzing connection waits this long for answers before it closes. */
const CONNECTION_LINGER_MS = 300;
/** The health check: a fresh connection's ApiVersions must be answered this fast, else the broker hangs. */
const HEALTH_TIMEOUT_MS = 10_000;
const HEALTH_INTERVAL_MS = 1000;
/** After the fuzzing, the good consumer must have read back everything acknowledged within this long. */
const READ_BACK_TIMEOUT_MS = 30_000;
/** A broker that idles after the fuzzing exits on SIGTERM within a second; this long means it will not. */
const STOP_TIMEOUT_MS = 10_000;

type Mutation = (frame: Buffer, rng: Rng) => Buffer;

function withSize(payload: Buffer, size = payload.length): Buffer {
  const prefix = Buffer.alloc(4);
  prefix.writeInt32BE(size | 0);
  return Buffer.concat([prefix, payload]);
}

/** The mutations, each applied to a whole frame (size prefix included). */
const MUTATIONS: Record<string, Mutation> = {
  valid: (f) => f,
  bitFlips: (f, rng) => {
    const out = Buffer.from(f);
    for (let i = rng.between(1, 8); i > 0; i--) {
      const at = 4 + rng.int(Math.max(1, out.length - 4));
      if (at < out.length) out[at]! ^= 1 << rng.int(8);
    }
    return out;
  },
  truncated: (f, rng) => withSize(f.subarray(4, 4 + rng.int(f.length - 4))),
  sizeTooLarge: (f, rng) => withSize(f.subarray(4), f.length - 4 + rng.between(1, 64)),
  sizeTooSmall: (f, rng) => withSize(f.subarray(4), rng.int(f.length - 4)),
  wrongApiKey: (f, rng) => {
    const out = Buffer.from(f);
    out.writeInt16BE(rng.pick([rng.between(-32768, 32767), rng.between(0, 90), -1]), 4);
    return out;
  },
  wrongVersion: (f, rng) => {
    const out = Buffer.from(f);
    out.writeInt16BE(rng.pick([rng.between(-32768, 32767), rng.between(0, 20), -1]), 6);
    return out;
  },
  hugeLength: (f, rng) => {
    const out = Buffer.from(f);
    const at = 8 + rng.int(Math.max(1, out.length - 12));
    if (at + 4 <= out.length) out.writeInt32BE(rng.pick([0x7fffffff, 0x40000000, -2, 0x00ffffff]), at);
    else if (at + 2 <= out.length) out.writeInt16BE(0x7fff, at);
    return out;
  },
  randomFrame: (_f, rng) => withSize(rng.bytes(rng.int(256))),
  hugeFrameSize: (_f, rng) => withSize(rng.bytes(8), rng.pick([0x7fffffff, 200 * 1024 * 1024, -1])),
  twoFramesGlued: (f, rng) => Buffer.concat([f, rng.bytes(rng.int(32))]),
};

/** Valid request frames for every API key and version the broker advertises. */
function buildSeeds(served: Array<{ apiKey: number; minVersion: number; maxVersion: number }>, seed: number): Buffer[] {
  const frames: Buffer[] = [];
  for (const { apiKey, minVersion, maxVersion } of served) {
    const api = apiByKey.get(apiKey);
    const schema = api && schemas[`${api.name}Request`];
    if (!api || !schema) continue;
    for (let version = minVersion; version <= maxVersion; version++) {
      const values = fc.sample(messageArb(schema, version), {
        numRuns: SEEDS_PER_VERSION,
        seed: seed ^ (apiKey << 8) ^ version,
      });
      for (const [i, value] of values.entries()) {
        try {
          const w = new Writer(64);
          encodeRequestHeader(w, requestHeaderVersion(apiKey, version), {
            requestApiKey: apiKey,
            requestApiVersion: version,
            correlationId: i,
            clientId: 'chaos-fuzz',
          });
          api.encodeRequest(w, version, value);
          frames.push(withSize(w.toBuffer()));
        } catch {
          // A generated value this version cannot carry: not a seed.
        }
      }
    }
  }
  return frames;
}

/** One fuzzing connection: a few mutated frames, then a short wait for answers, then close. */
function fuzzConnection(port: number, frames: Buffer[]): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    };
    socket.on('error', finish);
    socket.on('close', finish);
    socket.on('data', () => {});
    socket.once('connect', () => {
      for (const f of frames) socket.write(f);
      timer = setTimeout(finish, CONNECTION_LINGER_MS);
    });
  });
}

export async function runProtocolFuzzer(options: FuzzOptions): Promise<FuzzResult> {
  return withTempDir(async (dir) => {
    const port = await freePort();
    const props = join(dir, 'server.properties');
    await writeServerProperties(props, join(dir, 'data'), port, { 'group.initial.rebalance.delay.ms': 0 });
    const broker = new BrokerProcess(props);
    const problems: string[] = [];
    try {
      await broker.waitStarted();
      let stopping = false;
      let stopHung: string | null = null;
      const crashed = broker.exited.then(({ code, signal }) => {
        if (!stopping)
          problems.push(`the broker exited (${code ?? signal}) while fuzzed; log tail:\n${broker.log.slice(-3000)}`);
      });

      const probe = await RawClient.connect(port);
      const versions = await probe.request(apis.ApiVersions, 3, {
        clientSoftwareName: 'chaos',
        clientSoftwareVersion: '1',
      });
      probe.close();
      const seeds = buildSeeds(versions.apiKeys, options.seed);

      // The good client: its own topic, a producer sending and a consumer reading back.
      const topic = `chaos-good-${options.seed}`;
      const kafka = new Kafka({ brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, clientId: 'chaos-good' });
      await createTopics(kafka, [{ topic, numPartitions: 2 }]);
      const producer = kafka.producer({ allowAutoTopicCreation: false });
      const consumer = kafka.consumer({ groupId: `chaos-good-group-${options.seed}` });
      await producer.connect();
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const acknowledged = new Set<string>();
      const readBack = new Set<string>();
      await consumer.run({
        eachMessage: async ({ message }) => {
          readBack.add(message.value!.toString());
        },
      });

      let fuzzing = true;
      const good = (async () => {
        for (let n = 0; fuzzing; n++) {
          const value = `good-${n}`;
          try {
            await producer.send({ topic, acks: -1, messages: [{ key: String(n % 7), value }] });
            acknowledged.add(value);
          } catch (e) {
            problems.push(`the good producer's send ${n} failed: ${(e as Error).message}`);
          }
        }
      })();

      let healthWorst = 0;
      const health = (async () => {
        while (fuzzing && broker.running) {
          const started = Date.now();
          try {
            const c = await withTimeout(RawClient.connect(port), HEALTH_TIMEOUT_MS, 'connect');
            await withTimeout(
              c.request(apis.ApiVersions, 0, { clientSoftwareName: '', clientSoftwareVersion: '' }),
              HEALTH_TIMEOUT_MS,
              'ApiVersions',
            );
            c.close();
          } catch (e) {
            problems.push(`the broker did not answer a fresh connection: ${(e as Error).message}`);
          }
          healthWorst = Math.max(healthWorst, Date.now() - started);
          await new Promise((resolve) => setTimeout(resolve, HEALTH_INTERVAL_MS));
        }
      })();

      const mutationNames = Object.keys(MUTATIONS);
      let framesSent = 0;
      const started = Date.now();
      const deadline = started + options.seconds * 1000;
      const workers = Array.from({ length: options.connections }, async (_, w) => {
        const rng = new Rng(options.seed ^ Math.imul(w + 1, 0x9e3779b1));
        while (Date.now() < deadline && broker.running) {
          const frames = Array.from({ length: rng.between(1, MAX_FRAMES_PER_CONNECTION) }, () =>
            MUTATIONS[rng.pick(mutationNames)]!(rng.pick(seeds), rng),
          );
          framesSent += frames.length;
          await fuzzConnection(port, frames);
        }
      });
      await Promise.all(workers);
      const elapsedS = (Date.now() - started) / 1000;
      fuzzing = false;
      await good;
      await health;

      if (broker.running) {
        const readDeadline = Date.now() + READ_BACK_TIMEOUT_MS;
        while ([...acknowledged].some((v) => !readBack.has(v)) && Date.now() < readDeadline)
          await new Promise((resolve) => setTimeout(resolve, 100));
        const missing = [...acknowledged].filter((v) => !readBack.has(v));
        if (missing.length > 0) problems.push(`the good consumer never read ${missing.length} acknowledged records`);
      }
      await consumer.disconnect().catch(() => {});
      await producer.disconnect().catch(() => {});
      stopping = true;
      if (broker.running) {
        try {
          await broker.stop(STOP_TIMEOUT_MS);
        } catch (e) {
          stopHung = `${(e as Error).message} after the fuzzing (the broker logged ${broker.log.includes('INFO  [broker] stopped') ? '' : 'no '}"stopped")`;
        }
      }
      await crashed;
      if (broker.peakRssBytes > PEAK_RSS_LIMIT_BYTES)
        problems.push(`peak RSS ${mib(broker.peakRssBytes)} above ${mib(PEAK_RSS_LIMIT_BYTES)}`);

      const result: FuzzResult = {
        seed: options.seed,
        framesSent,
        framesPerSecond: Math.round(framesSent / elapsedS),
        seedRequests: seeds.length,
        apisFuzzed: versions.apiKeys.length,
        goodAcknowledged: acknowledged.size,
        goodReadBack: [...acknowledged].filter((v) => readBack.has(v)).length,
        problems,
        stopHung,
        peakRssBytes: broker.peakRssBytes,
      };
      printFigures('protocol-fuzzer', {
        seed: result.seed,
        seconds: Math.round(elapsedS),
        connections: options.connections,
        apis: result.apisFuzzed,
        seedRequests: result.seedRequests,
        framesFuzzed: framesSent,
        framesPerSecond: result.framesPerSecond,
        goodAcknowledged: result.goodAcknowledged,
        goodReadBack: result.goodReadBack,
        slowestHealthCheckMs: healthWorst,
        brokerErrorLines: broker.log.split('\n').filter((l) => l.includes(' ERROR ')).length,
        problems: problems.length,
        cleanStop: stopHung ? 'hung' : 'ok',
        peakBrokerRss: mib(broker.peakRssBytes),
      });
      return result;
    } finally {
      await broker.kill();
    }
  });
}
