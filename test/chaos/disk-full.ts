import { execFile } from 'node:child_process';
import { cp, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { ErrorCode } from '../../src/protocol/errors.js';
import { apis } from '../../src/protocol/generated/index.js';
import { createTopics } from '../integration/clients.js';
import {
  BrokerProcess,
  freePort,
  mib,
  printFigures,
  RawClient,
  readPartition,
  withTempDir,
  writeServerProperties,
} from './harness.js';

const run = promisify(execFile);

/**
 * Probe 3: a broker whose log dir is a small tmpfs that a producer fills. While the disk is full the broker
 * must keep serving reads and other requests and never acknowledge a write it could not make; after its data
 * is moved to a larger disk and it is restarted, every acknowledged record must be there.
 */
export const DISK_BYTES = 4 * 1024 * 1024;
const TOPIC = 'chaos-full';
const PARTITIONS = 2;
/** Written before the disk fills, and read back while it is full: another topic's reads must go on. */
const SIDE_TOPIC = 'chaos-side';
const VALUE_BYTES = 1024;
const RECORDS_PER_SEND = 16;
/** Refused sends in a row after which the disk counts as full. */
const REFUSALS_WHEN_FULL = 20;
/** Sends at most: a disk that never fills (no ENOSPC) ends the probe as a failure, not a hang. */
const MAX_SENDS = 2000;

/** Why the probe cannot run here (it mounts a tmpfs), or null. */
export function diskFullUnavailable(): string | null {
  if (process.platform !== 'linux') return 'needs Linux (tmpfs)';
  if (process.getuid?.() !== 0) return 'needs root to mount a tmpfs';
  return null;
}

export interface DiskFullResult {
  acknowledged: number;
  refused: number;
  /** What the broker failed to serve while the disk was full. */
  unservedWhileFull: string[];
  /** Acknowledged records missing or different after the move to a larger disk. */
  lost: string[];
  refusalErrors: string[];
  peakRssBytes: number;
}

export async function runDiskFull(): Promise<DiskFullResult> {
  return withTempDir(async (dir) => {
    const small = join(dir, 'small');
    await mkdir(small);
    await run('mount', ['-t', 'tmpfs', '-o', `size=${DISK_BYTES}`, 'tmpfs', small]);
    const port = await freePort();
    const props = join(dir, 'server.properties');
    const acked = new Map<string, Map<number, string>>();
    const refusalErrors = new Set<string>();
    const unservedWhileFull: string[] = [];
    let refused = 0;
    let peakRssBytes = 0;
    let broker: BrokerProcess | null = null;
    try {
      await writeServerProperties(props, join(small, 'data'), port, {
        'log.segment.bytes': 256 * 1024,
        'auto.create.topics.enable': 'false',
      });
      broker = new BrokerProcess(props);
      await broker.waitStarted();
      const kafka = new Kafka({ brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
      await createTopics(kafka, [
        { topic: TOPIC, numPartitions: PARTITIONS },
        { topic: SIDE_TOPIC, numPartitions: 1 },
      ]);
      const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
      await producer.connect();
      const remember = (topic: string, partition: number, offset: number, value: string) => {
        const key = `${topic}-${partition}`;
        const m = acked.get(key) ?? new Map<number, string>();
        acked.set(key, m);
        m.set(offset, value);
      };
      const side = await producer.send({ topic: SIDE_TOPIC, acks: -1, messages: [{ partition: 0, value: 'side-0' }] });
      remember(SIDE_TOPIC, 0, Number(side[0]!.baseOffset), 'side-0');

      let refusedInARow = 0;
      for (let send = 0; send < MAX_SENDS && refusedInARow < REFUSALS_WHEN_FULL; send++) {
        const partition = send % PARTITIONS;
        const values = Array.from({ length: RECORDS_PER_SEND }, (_, i) => `s${send}-${i}-`.padEnd(VALUE_BYTES, 'x'));
        try {
          const [r] = await producer.send({
            topic: TOPIC,
            acks: -1,
            messages: values.map((value) => ({ partition, value })),
          });
          for (const [i, v] of values.entries()) remember(TOPIC, partition, Number(r!.baseOffset) + i, v);
          refusedInARow = 0;
        } catch (e) {
          refused++;
          refusedInARow++;
          refusalErrors.add((e as Error).message);
        }
      }
      await producer.disconnect();
      if (refusedInARow < REFUSALS_WHEN_FULL) unservedWhileFull.push(`the disk never filled in ${MAX_SENDS} sends`);

      // Full now: the broker must still answer, and serve what it acknowledged.
      const client = await RawClient.connect(port);
      try {
        const versions = await client.request(apis.ApiVersions, 3, {
          clientSoftwareName: 'chaos',
          clientSoftwareVersion: '1',
        });
        if (versions.errorCode !== ErrorCode.NONE) unservedWhileFull.push(`ApiVersions: error ${versions.errorCode}`);
        const metadata = await client.request(apis.Metadata, 12, {
          topics: null,
          allowAutoTopicCreation: false,
          includeClusterAuthorizedOperations: false,
          includeTopicAuthorizedOperations: false,
        });
        if (metadata.topics.length < 2) unservedWhileFull.push(`Metadata lists ${metadata.topics.length} topics`);
        for (const [tp, records] of acked) {
          const cut = tp.lastIndexOf('-');
          const read = await readPartition(client, tp.slice(0, cut), Number(tp.slice(cut + 1)));
          const served = new Map(read.records.map((r) => [r.offset, r.value]));
          const missing = [...records].filter(([o, v]) => served.get(o) !== v).length;
          if (missing > 0)
            unservedWhileFull.push(
              `${tp}: ${missing} acknowledged records not served (${read.stoppedBy ?? 'no error'})`,
            );
        }
      } finally {
        client.close();
      }
      // A clean stop may fail to write its checkpoints on a full disk; it must still end.
      await broker.stop().catch(() => {});
      peakRssBytes = broker.peakRssBytes;
      broker = null;

      const big = join(dir, 'big');
      await cp(join(small, 'data'), join(big, 'data'), { recursive: true });
      await run('umount', [small]);
      await writeServerProperties(props, join(big, 'data'), port, { 'auto.create.topics.enable': 'false' });
      broker = new BrokerProcess(props);
      await broker.waitStarted();
      const lost: string[] = [];
      const after = await RawClient.connect(port);
      try {
        for (const [tp, records] of acked) {
          const cut = tp.lastIndexOf('-');
          const read = await readPartition(after, tp.slice(0, cut), Number(tp.slice(cut + 1)));
          const served = new Map(read.records.map((r) => [r.offset, r.value]));
          for (const [offset, value] of records)
            if (served.get(offset) !== value)
              lost.push(`${tp}/${offset}${read.stoppedBy ? ` (${read.stoppedBy})` : ''}`);
        }
      } finally {
        after.close();
      }
      await broker.stop();
      peakRssBytes = Math.max(peakRssBytes, broker.peakRssBytes);
      broker = null;
      const acknowledged = [...acked.values()].reduce((n, m) => n + m.size, 0);
      printFigures('disk-full', {
        diskBytes: mib(DISK_BYTES),
        acknowledged,
        refused,
        lost: lost.length,
        unservedWhileFull: unservedWhileFull.length,
        peakBrokerRss: mib(peakRssBytes),
      });
      return { acknowledged, refused, unservedWhileFull, lost, refusalErrors: [...refusalErrors], peakRssBytes };
    } finally {
      await broker?.kill();
      await run('umount', [small]).catch(() => {});
    }
  });
}
