import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type ClusterBroker,
  kafkaFor,
  partitionStates,
  replicaBatches,
  startCluster,
  stopCluster,
  waitAllInSync,
} from '../cluster/cluster-helpers.js';
import { type EtcdServer, startEtcd } from '../cluster/etcd.js';
import { fastTempRoot, mib, printFigures, RawClient, Rng, readPartition } from './harness.js';
import { checkStored, type KillLoopResult, type StoredCheck, startIdempotentProducer } from './kill-loop.js';

/**
 * Probe 5: the leader of a replicated partition killed with SIGKILL while an idempotent acks=all producer writes,
 * again and again. Three brokers on etcd, every partition on all three (replication factor 3,
 * min.insync.replicas 2). Each cycle kills the current leader of a partition chosen at random, waits until a
 * write to that partition is acknowledged again (a new leader from the ISR took over: the time it took is the
 * failover figure), restarts the killed broker and waits until it is back in every ISR, so that the next kill
 * never takes the last in-sync copy. At the end every acknowledged record must be stored exactly once, at the
 * offset it was acknowledged with, in order, on the partition's leader; and every replica must hold the same
 * batches.
 */
export interface LeaderKillLoopOptions {
  cycles: number;
  seed: number;
  partitions?: number;
  /** Records the producer keeps unacknowledged at most. */
  maxInFlight?: number;
}

export interface LeaderKillLoopResult extends KillLoopResult {
  /** Per kill: from the SIGKILL to the first acknowledged write on the killed leader's partition. */
  failoverMs: number[];
  /** Replicas whose log end offset differs from their leader's at the end. */
  divergentReplicas: string[];
}

const TOPIC = 'chaos-leader-kill';
const NODE_IDS = [1, 2, 3];
/** Small segments, so that truncations after a failover cross segment boundaries. */
const SEGMENT_BYTES = 64 * 1024;
/** A kill comes this long after the previous cycle settled, at most. */
const MAX_KILL_DELAY_MS = 1500;

export async function runLeaderKillLoop(options: LeaderKillLoopOptions): Promise<LeaderKillLoopResult> {
  const rng = new Rng(options.seed);
  const partitions = options.partitions ?? 4;
  const dir = await mkdtemp(join(await fastTempRoot(), 'samsa-leader-kill-'));
  let etcd: EtcdServer | null = null;
  let brokers: ClusterBroker[] = [];
  try {
    etcd = await startEtcd();
    brokers = await startCluster(etcd, dir, NODE_IDS, {
      extra: {
        'log.segment.bytes': SEGMENT_BYTES,
        'auto.create.topics.enable': 'false',
        'min.insync.replicas': 2,
        // A dead broker's partitions move this long after its last lease renewal (Kafka's default: 9 s).
        'broker.session.timeout.ms': 4000,
        // A follower killed with the leader's records unread is out of the ISR after this, not 30 s.
        'replica.lag.time.max.ms': 3000,
      },
    });
    const live = () => brokers.filter((b) => b.process.running);
    const admin = kafkaFor(brokers.map((b) => b.bootstrap)).admin();
    await admin.connect();
    try {
      await admin.createTopics({
        topics: [{ topic: TOPIC, numPartitions: partitions, replicationFactor: NODE_IDS.length }],
        waitForLeaders: true,
      });
    } finally {
      await admin.disconnect();
    }
    await waitAllInSync(live(), TOPIC, partitions);

    const producer = startIdempotentProducer(
      brokers.map((b) => b.bootstrap).join(','),
      TOPIC,
      partitions,
      options.maxInFlight ?? 200,
    );
    const failoverMs: number[] = [];
    let producerErrors: string[];
    let peakRssBytes = 0;
    try {
      for (let cycle = 0; cycle < options.cycles; cycle++) {
        await producer.nextAck();
        await sleep(rng.int(MAX_KILL_DELAY_MS));
        const partition = rng.int(partitions);
        const state = await partitionStates(live(), TOPIC, partitions);
        const victim = brokers.find((b) => b.nodeId === state.get(partition)!.leader)!;
        await victim.process.kill();
        const killedAt = Date.now();
        peakRssBytes = Math.max(peakRssBytes, victim.process.peakRssBytes);
        const ack = await producer.nextAck(partition);
        failoverMs.push(ack.atMs - killedAt);
        await victim.restart();
        await waitAllInSync(live(), TOPIC, partitions);
      }
      await producer.nextAck();
      producerErrors = await producer.stop();
    } finally {
      producer.kill();
    }

    const state = await partitionStates(live(), TOPIC, partitions);
    const divergentReplicas: string[] = [];
    const stored: StoredCheck = await checkStored(partitions, producer.acks, async (partition) => {
      const leader = brokers.find((b) => b.nodeId === state.get(partition)!.leader)!;
      const client = await RawClient.connect(leader.port, { host: leader.host });
      try {
        return await readPartition(client, TOPIC, partition);
      } finally {
        client.close();
      }
    });
    // Stopped cleanly so that every replica's files are complete; then compared batch by batch.
    for (const b of brokers) await b.process.stop();
    for (let partition = 0; partition < partitions; partition++) {
      const copies = await replicaBatches(dir, TOPIC, partition, NODE_IDS);
      const reference = copies.get(state.get(partition)!.leader)!;
      for (const [nodeId, batches] of copies) {
        const differsAt = batches.findIndex((b, i) => b !== reference[i]);
        if (batches.length !== reference.length || differsAt >= 0) {
          divergentReplicas.push(
            `partition ${partition}: broker ${nodeId} holds ${batches.length} batches, the leader ${reference.length}` +
              (differsAt >= 0
                ? `, first difference at batch ${differsAt}: ${batches[differsAt]} vs ${reference[differsAt]}`
                : ''),
          );
        }
      }
    }
    for (const b of brokers) peakRssBytes = Math.max(peakRssBytes, b.process.peakRssBytes);
    const result: LeaderKillLoopResult = {
      seed: options.seed,
      cycles: options.cycles,
      acknowledged: producer.acks.length,
      ...stored,
      producerErrors,
      peakRssBytes,
      failoverMs,
      divergentReplicas,
    };
    const sorted = [...failoverMs].sort((a, b) => a - b);
    printFigures('leader-kill-loop', {
      seed: result.seed,
      cycles: result.cycles,
      partitions,
      acknowledged: result.acknowledged,
      lost: result.lost.length,
      duplicated: result.duplicated.length,
      outOfOrder: result.outOfOrder.length,
      holes: result.holes.length,
      divergentReplicas: divergentReplicas.length,
      producerErrors: producerErrors.length,
      failoverMedianMs: sorted[Math.floor(sorted.length / 2)] ?? '-',
      failoverMaxMs: sorted[sorted.length - 1] ?? '-',
      peakBrokerRss: mib(peakRssBytes),
    });
    return result;
  } finally {
    await stopCluster(brokers);
    await etcd?.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
