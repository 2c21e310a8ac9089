import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { ErrorCode } from '../../src/protocol/errors.js';
import { apis } from '../../src/protocol/generated/index.js';
import { readBatches } from '../../src/protocol/records/record-batch.js';
import { BrokerProcess, freePort, writeServerProperties } from '../chaos/harness.js';
import { RawClient } from '../integration/raw-client.js';
import type { EtcdServer } from './etcd.js';

const { Kafka, logLevel } = kafkajs;

/** A broker of a test cluster: `samsa server` as its own process, on etcd. */
export interface ClusterBroker {
  nodeId: number;
  /** The address it listens on: loopback, or its network namespace's. */
  host: string;
  port: number;
  bootstrap: string;
  process: BrokerProcess;
  /** Starts it again (same node.id, port and log dir) after a kill or a stop. */
  restart(): Promise<void>;
}

export interface ClusterOptions {
  /** broker.rack per node id. */
  racks?: Record<number, string>;
  /** More server.properties keys, for every broker. */
  extra?: Record<string, string | number>;
  /**
   * Where each broker runs, for brokers in network namespaces: the address it listens on (port 9092 there) and
   * the command prefix that runs it inside its namespace. Default: loopback, a free port, no prefix.
   */
  placement?: (nodeId: number) => { host: string; wrapper: string[] };
  /** More server.properties keys of one broker (its own listeners, say), over `extra`; `port` is its first listener's. */
  perBroker?: (nodeId: number, host: string, port: number) => Promise<Record<string, string | number>>;
}

/** Starts of a broker whose free port was taken meanwhile, before the cluster's start fails. */
const PORT_ATTEMPTS = 3;

/**
 * Starts `nodeIds.length` brokers as processes sharing one etcd prefix, each on its own free port and log dir
 * under `dir`. They are started one after another, so the first is the first controller.
 */
export async function startCluster(
  etcd: EtcdServer,
  dir: string,
  nodeIds: number[],
  options: ClusterOptions = {},
): Promise<ClusterBroker[]> {
  const brokers: ClusterBroker[] = [];
  for (const nodeId of nodeIds) {
    const placed = options.placement?.(nodeId);
    const host = placed?.host ?? '127.0.0.1';
    const wrapper = placed?.wrapper ?? [];
    const logDir = join(dir, `broker-${nodeId}`);
    await mkdir(logDir, { recursive: true });
    const props = join(dir, `broker-${nodeId}.properties`);
    for (let attempt = 1; ; attempt++) {
      const port = placed ? 9092 : await freePort();
      await writeServerProperties(props, logDir, port, {
        listeners: `PLAINTEXT://${host}:${port}`,
        'advertised.listeners': `PLAINTEXT://${host}:${port}`,
        'node.id': nodeId,
        'samsa.metadata.store': 'etcd',
        'samsa.etcd.endpoints': etcd.endpoint,
        'samsa.etcd.prefix': '/samsa/cluster-test',
        'group.initial.rebalance.delay.ms': 0,
        ...(options.racks?.[nodeId] ? { 'broker.rack': options.racks[nodeId] } : {}),
        ...options.extra,
        ...(await options.perBroker?.(nodeId, host, port)),
      });
      const broker: ClusterBroker = {
        nodeId,
        port,
        host,
        bootstrap: `${host}:${port}`,
        process: new BrokerProcess(props, {}, wrapper),
        async restart() {
          broker.process = new BrokerProcess(props, {}, wrapper);
          await broker.process.waitStarted();
        },
      };
      try {
        await broker.process.waitStarted();
        brokers.push(broker);
        break;
      } catch (e) {
        // A port found free was taken before the broker bound it (another test's process, or a connection's
        // ephemeral port, on a busy machine): the broker says EADDRINUSE and exits; it starts again on new ports.
        if (placed || attempt >= PORT_ATTEMPTS || !String(e).includes('EADDRINUSE')) throw e;
      }
    }
  }
  return brokers;
}

/** Stops every broker still running (kill -9: the test is over, a clean stop would only cost time). */
export async function stopCluster(brokers: ClusterBroker[]): Promise<void> {
  await Promise.all(brokers.map((b) => b.process.kill()));
}

export function kafkaFor(bootstrap: string[], clientId = 'cluster-test') {
  return new Kafka({
    clientId,
    brokers: bootstrap,
    logLevel: logLevel.NOTHING,
    retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 },
  });
}

/** Polls `check` until it returns a value other than undefined; fails as hung after `hangMs` (not a timing assertion). */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, hangMs = 60_000): Promise<T> {
  const deadline = Date.now() + hangMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not reached (last error: ${String(last)})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * The node id of the coordinator of `key` (keyType 0: a group, 1: a transactional id), once a broker of `live()`
 * answers for it and names a live broker.
 */
export async function coordinatorOf(live: () => ClusterBroker[], key: string, keyType: 0 | 1): Promise<number> {
  return eventually(`the coordinator of ${key}`, async () => {
    const client = await RawClient.connect(live()[0]!.port, { host: live()[0]!.host });
    try {
      const r = await client.request(apis.FindCoordinator, 4, { key: '', keyType, coordinatorKeys: [key] });
      const one = r.coordinators[0]!;
      return one.errorCode === ErrorCode.NONE && live().some((b) => b.nodeId === one.nodeId) ? one.nodeId : undefined;
    } finally {
      client.close();
    }
  });
}

export interface PartitionState {
  leader: number;
  isr: number[];
}

/** How long a restarted broker may take to be back in every ISR before a test counts it as stuck. */
const REJOIN_TIMEOUT_MS = 120_000;

/** Leader and ISR of each partition, as the first live broker's Metadata answers them (all leaders known). */
export async function partitionStates(
  live: ClusterBroker[],
  topic: string,
  partitions: number,
): Promise<Map<number, PartitionState>> {
  return eventually('every partition has a live leader', async () => {
    const client = await RawClient.connect(live[0]!.port, { host: live[0]!.host });
    try {
      const md = await client.request(apis.Metadata, 12, {
        topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: topic }],
        allowAutoTopicCreation: false,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      });
      const t = md.topics[0];
      if (!t || t.errorCode !== ErrorCode.NONE || t.partitions.length !== partitions) return undefined;
      const liveIds = new Set(live.map((b) => b.nodeId));
      const states = new Map<number, PartitionState>();
      for (const p of t.partitions) {
        if (p.errorCode !== ErrorCode.NONE || !liveIds.has(p.leaderId)) return undefined;
        states.set(p.partitionIndex, { leader: p.leaderId, isr: [...p.isrNodes] });
      }
      return states;
    } finally {
      client.close();
    }
  });
}

/** Waits until every live broker is in the ISR of every partition (a restarted one caught up). */
export async function waitAllInSync(live: ClusterBroker[], topic: string, partitions: number): Promise<void> {
  await eventually(
    'every live broker back in every ISR',
    async () => {
      const states = await partitionStates(live, topic, partitions);
      for (const s of states.values()) if (live.some((b) => !s.isr.includes(b.nodeId))) return undefined;
      return true;
    },
    REJOIN_TIMEOUT_MS,
  );
}

/**
 * Each replica's batches of `partition` as its files hold them, as "base-last:crc" per batch: followers copy
 * their leader's batches as they are, so once all are in sync and stopped the lists must be identical.
 */
export async function replicaBatches(
  dir: string,
  topic: string,
  partition: number,
  nodeIds: number[],
): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>();
  for (const nodeId of nodeIds) {
    const partitionDir = join(dir, `broker-${nodeId}`, `${topic}-${partition}`);
    const segments = (await readdir(partitionDir)).filter((f) => f.endsWith('.log')).sort();
    const batches: string[] = [];
    for (const segment of segments) {
      for (const b of readBatches(await readFile(join(partitionDir, segment))).batches)
        batches.push(`${b.baseOffset}-${b.lastOffset}:${b.crc}`);
    }
    out.set(nodeId, batches);
  }
  return out;
}

export { RawClient };
