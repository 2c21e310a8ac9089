import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type AssignmentMember,
  rangeAssignor,
  type TopicPartitions,
  uniformAssignor,
} from '../../src/coordinator/group/assignors.js';
import { MemberState, reconcile } from '../../src/coordinator/group/consumer-group.js';

function member(memberId: string, topics: string[], current: Record<string, number[]> = {}): AssignmentMember {
  return {
    memberId,
    subscribedTopicIds: new Set(topics),
    current: new Map(Object.entries(current).map(([t, ps]) => [t, new Set(ps)])),
  };
}

function flat(assignment: Map<string, TopicPartitions>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [m, tps] of assignment) out[m] = [...tps].flatMap(([t, ps]) => [...ps].map((p) => `${t}-${p}`)).sort();
  return out;
}

/** Every partition of every topic goes to exactly one member that subscribes to it. */
function assertComplete(
  members: AssignmentMember[],
  topics: Map<string, number>,
  result: Map<string, TopicPartitions>,
): void {
  const seen = new Set<string>();
  for (const [m, tps] of result)
    for (const [t, ps] of tps)
      for (const p of ps) {
        assert.ok(members.find((x) => x.memberId === m)!.subscribedTopicIds.has(t), `${m} subscribes to ${t}`);
        assert.ok(!seen.has(`${t}-${p}`), `${t}-${p} given twice`);
        seen.add(`${t}-${p}`);
      }
  for (const [t, n] of topics) for (let p = 0; p < n; p++) assert.ok(seen.has(`${t}-${p}`), `${t}-${p} given`);
}

test('uniform: balanced within one partition, and sticky when a member joins', () => {
  const topics = new Map([
    ['A', 4],
    ['B', 3],
  ]);
  const two = [member('m1', ['A', 'B']), member('m2', ['A', 'B'])];
  const first = uniformAssignor.assign({ members: two, topics });
  assertComplete(two, topics, first);
  const sizes = Object.values(flat(first)).map((ps) => ps.length);
  assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1);

  const three = [
    member('m1', ['A', 'B'], Object.fromEntries([...first.get('m1')!].map(([t, ps]) => [t, [...ps]]))),
    member('m2', ['A', 'B'], Object.fromEntries([...first.get('m2')!].map(([t, ps]) => [t, [...ps]]))),
    member('m3', ['A', 'B']),
  ];
  const second = uniformAssignor.assign({ members: three, topics });
  assertComplete(three, topics, second);
  const before = flat(first);
  const after = flat(second);
  assert.deepEqual(
    Object.values(after)
      .map((ps) => ps.length)
      .sort(),
    [2, 2, 3],
  );
  // m1 and m2 only give up partitions: whatever they hold now, they held before.
  for (const m of ['m1', 'm2']) for (const p of after[m]!) assert.ok(before[m]!.includes(p), `${m} kept ${p}`);
});

test('uniform: members with different subscriptions get only their topics, and all of them', () => {
  const topics = new Map([
    ['A', 3],
    ['B', 2],
    ['C', 1],
  ]);
  const members = [member('m1', ['A']), member('m2', ['A', 'B']), member('m3', ['B', 'C'])];
  const result = uniformAssignor.assign({ members, topics });
  assertComplete(members, topics, result);
  // A stale current assignment (a topic no longer subscribed, a partition that no longer exists) is dropped.
  const stale = [member('m1', ['A'], { A: [0, 7], B: [0] })];
  const r2 = uniformAssignor.assign({ members: stale, topics: new Map([['A', 2]]) });
  assert.deepEqual(flat(r2), { m1: ['A-0', 'A-1'] });
});

test('range: consecutive ranges per topic in member id order, the first ones one more', () => {
  const topics = new Map([
    ['A', 5],
    ['B', 2],
  ]);
  const members = [member('m2', ['A', 'B']), member('m1', ['A', 'B'])];
  assert.deepEqual(flat(rangeAssignor.assign({ members, topics })), {
    m1: ['A-0', 'A-1', 'A-2', 'B-0'],
    m2: ['A-3', 'A-4', 'B-1'],
  });
});

test('reconcile: revoke first, then move to the target epoch; partitions held by others wait', () => {
  const held = new Map([['A', new Set([0, 1])]]);
  const member = {
    memberEpoch: 1,
    previousMemberEpoch: 0,
    state: MemberState.STABLE,
    assignedPartitions: held,
    partitionsPendingRevocation: new Map(),
  };
  const target = new Map([['A', new Set([1, 2])]]);
  const free = () => -1;
  const revoking = reconcile(member, 2, target, held, free)!;
  assert.equal(revoking.state, MemberState.UNREVOKED_PARTITIONS);
  assert.equal(revoking.memberEpoch, 1);
  assert.deepEqual([...revoking.partitionsPendingRevocation.get('A')!], [0]);
  assert.equal(reconcile(revoking, 2, target, held, free), null, 'still holds partition 0');
  const owner = (_t: string, p: number) => (p === 2 ? 5 : -1);
  const done = reconcile(revoking, 2, target, new Map([['A', new Set([1])]]), owner)!;
  assert.equal(done.memberEpoch, 2);
  assert.equal(done.state, MemberState.UNRELEASED_PARTITIONS, 'partition 2 is still held by another member');
  assert.deepEqual([...done.assignedPartitions.get('A')!], [1]);
  const stable = reconcile(done, 2, target, new Map([['A', new Set([1])]]), free)!;
  assert.equal(stable.state, MemberState.STABLE);
  assert.deepEqual([...stable.assignedPartitions.get('A')!].sort(), [1, 2]);
});
