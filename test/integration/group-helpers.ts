import { type ChildProcess, spawn } from 'node:child_process';
import { type EventEmitter, once } from 'node:events';
import { fileURLToPath } from 'node:url';
import kafkajs from 'kafkajs';
import { apis, decodeConsumerProtocolAssignment } from '../../src/protocol/generated/index.js';
import { Reader } from '../../src/protocol/primitives/index.js';
import { PYTHON } from './clients.js';
import { RawClient } from './raw-client.js';

const { Kafka, logLevel } = kafkajs;

export interface GroupView {
  state: string;
  /** Partitions of each member, by member id, from the assignment the leader handed out. */
  members: Map<string, number[]>;
  clientIds: Map<string, string>;
}

/** The group as the broker describes it, with each member's assignment decoded. */
export async function describeGroup(port: number, groupId: string): Promise<GroupView> {
  const client = await RawClient.connect(port);
  try {
    const r = await client.request(apis.DescribeGroups, 5, { groups: [groupId], includeAuthorizedOperations: false });
    const g = r.groups[0]!;
    const members = new Map<string, number[]>();
    const clientIds = new Map<string, string>();
    for (const m of g.members) {
      clientIds.set(m.memberId, m.clientId);
      if (m.memberAssignment.length === 0) {
        members.set(m.memberId, []);
        continue;
      }
      const reader = new Reader(m.memberAssignment);
      const version = Math.min(reader.readInt16(), 3);
      const assignment = decodeConsumerProtocolAssignment(reader, version);
      members.set(
        m.memberId,
        assignment.assignedPartitions.flatMap((t) => t.partitions).sort((a, b) => a - b),
      );
    }
    return { state: g.groupState, members, clientIds };
  } finally {
    client.close();
  }
}

/** Waits until the group is Stable with `members` members that hold all `partitions` partitions between them. */
export async function waitForBalancedGroup(
  port: number,
  groupId: string,
  members: number,
  partitions: number,
  timeoutMs = 60_000,
): Promise<GroupView> {
  const deadline = Date.now() + timeoutMs;
  let view: GroupView | null = null;
  while (Date.now() < deadline) {
    view = await describeGroup(port, groupId);
    const held = [...view.members.values()].flat();
    if (
      view.state === 'Stable' &&
      view.members.size === members &&
      held.length === partitions &&
      new Set(held).size === partitions
    )
      return view;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`group ${groupId} did not balance: ${JSON.stringify(view && [view.state, [...view.members]])}`);
}

/**
 * Resolves once each @platformatic/kafka message stream (of consumers of one broker) has ended a fetch after the
 * call. The client builds each fetch from the assignment it holds when it sends it, and keeps one fetch per broker
 * in flight: a fetch sent under an earlier assignment may still be waiting (a long poll) when the client already
 * holds its new one, and records produced meanwhile would come back for partitions the member no longer owns.
 * Called once the clients hold their new assignments, no fetch of an earlier one is left when this resolves.
 */
export async function fetchesEnded(streams: EventEmitter[], hangMs = 60_000): Promise<void> {
  const signal = AbortSignal.timeout(hangMs);
  await Promise.all(streams.map((stream) => once(stream, 'fetch', { signal })));
}

/** Produces `count` records spread evenly over the partitions, values `v<i>`, with KafkaJS. */
export async function produceSpread(bootstrap: string, topic: string, count: number, partitions: number, from = 0) {
  const kafka = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic,
    acks: -1,
    messages: Array.from({ length: count }, (_, i) => ({ value: `v${from + i}`, partition: (from + i) % partitions })),
  });
  await producer.disconnect();
}

export interface PythonGroupResult {
  assignments: number[][];
  /** Per member: [partition, offset, value]. */
  records: Array<Array<[number, number, string]>>;
}

/**
 * Runs a group of members with a Python client (test/integration/python/group_members.py); calls `whenReady`
 * once the group is balanced, then resolves with what each member held and read.
 */
export function runPythonGroup(
  library: 'kafka-python' | 'confluent',
  args: { bootstrap: string; topic: string; group: string; members: number; partitions: number; expected: number },
  whenReady: () => Promise<void>,
): Promise<PythonGroupResult> {
  const script = fileURLToPath(new URL('./python/group_members.py', import.meta.url));
  const child: ChildProcess = spawn(PYTHON, [
    script,
    library,
    args.bootstrap,
    args.topic,
    args.group,
    String(args.members),
    String(args.partitions),
    String(args.expected),
  ]);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    let ready = false;
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (!ready && out.includes('READY\n')) {
        ready = true;
        whenReady().catch(reject);
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    child.on('exit', (code) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !last.startsWith('{')) reject(new Error(`python group exited ${code}: ${err.slice(-2000)}`));
      else resolve(JSON.parse(last) as PythonGroupResult);
    });
  });
}
