import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CoordinatorRuntime,
  type CoordinatorSerde,
  type CoordinatorShard,
} from '../../../src/coordinator/runtime/coordinator-runtime.js';
import { ErrorCode, KafkaError } from '../../../src/protocol/errors.js';
import { deferred, InMemoryCoordinatorLog, MockClock, quietLogger } from './fakes.js';

/** A key -> number store: the smallest state machine with records. */
interface SetRecord {
  key: string;
  value: number | null;
}

class KeyValueShard implements CoordinatorShard<SetRecord> {
  readonly values = new Map<string, number>();
  replay(record: SetRecord): void {
    if (record.value === null) this.values.delete(record.key);
    else this.values.set(record.key, record.value);
  }
}

const serde: CoordinatorSerde<SetRecord> = {
  serialize: (r) => ({ key: Buffer.from(r.key), value: r.value === null ? null : Buffer.from(String(r.value)) }),
  deserialize: (key, value) => ({ key: key.toString(), value: value === null ? null : Number(value.toString()) }),
};

function setup(logs = new Map<number, InMemoryCoordinatorLog>()) {
  const clock = new MockClock();
  const loaded: number[] = [];
  const runtime = new CoordinatorRuntime<KeyValueShard, SetRecord>({
    name: 'test',
    newShard: () => new KeyValueShard(),
    serde,
    logFor: (partition) => {
      let log = logs.get(partition);
      if (!log) {
        log = new InMemoryCoordinatorLog();
        logs.set(partition, log);
      }
      return log;
    },
    clock,
    logger: quietLogger(),
    onLoaded: (partition) => loaded.push(partition),
  });
  const log = (p: number) => logs.get(p) as InMemoryCoordinatorLog;
  return { runtime, clock, logs, log, loaded };
}

const set = (key: string, value: number | null) => (_: KeyValueShard) => ({
  records: [{ key, value }],
  response: 'ok',
});

async function code(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
    return ErrorCode.NONE;
  } catch (error) {
    assert.ok(error instanceof KafkaError, String(error));
    return error.code;
  }
}

test('load replays the log into a fresh shard, and a write appends, applies and answers', async () => {
  const logs = new Map([[0, new InMemoryCoordinatorLog()]]);
  logs.get(0)?.records.push(serde.serialize({ key: 'a', value: 1 }), serde.serialize({ key: 'b', value: 2 }));
  logs.get(0)?.records.push(serde.serialize({ key: 'a', value: null }));
  const { runtime, log, loaded } = setup(logs);
  await runtime.load(0);
  assert.deepEqual(loaded, [0]);
  assert.deepEqual([...(runtime.shard(0)?.values ?? [])], [['b', 2]]);
  assert.equal(await runtime.write(0, 'set', set('c', 3)), 'ok');
  assert.equal(runtime.shard(0)?.values.get('c'), 3);
  assert.equal(log(0).records.length, 4);
});

test('the response and the state change wait for the append to be committed', async () => {
  const { runtime, log } = setup();
  await runtime.load(0);
  const gate = deferred();
  log(0).appendGate = gate.promise;
  let answered = false;
  const written = runtime.write(0, 'set', set('a', 1)).then(() => {
    answered = true;
  });
  await new Promise((r) => setImmediate(r));
  assert.equal(answered, false);
  assert.equal(runtime.shard(0)?.values.has('a'), false, 'readers see committed state only');
  gate.resolve();
  await written;
  assert.equal(runtime.shard(0)?.values.get('a'), 1);
});

test('operations on a partition run one at a time, in order, even when one awaits', async () => {
  const { runtime } = setup();
  await runtime.load(0);
  const order: string[] = [];
  const slow = deferred();
  const first = runtime.write(0, 'first', async (shard) => {
    order.push(`first sees ${shard.values.get('x') ?? 'nothing'}`);
    await slow.promise;
    return { records: [{ key: 'x', value: 1 }], response: 1 };
  });
  const second = runtime.write(0, 'second', (shard) => {
    order.push(`second sees ${shard.values.get('x') ?? 'nothing'}`);
    return { records: [{ key: 'x', value: 2 }], response: 2 };
  });
  await new Promise((r) => setImmediate(r));
  slow.resolve();
  assert.deepEqual(await Promise.all([first, second]), [1, 2]);
  assert.deepEqual(order, ['first sees nothing', 'second sees 1']);
});

test('while loading, writes answer COORDINATOR_LOAD_IN_PROGRESS; unloaded, NOT_COORDINATOR', async () => {
  const { runtime, logs } = setup(new Map([[0, new InMemoryCoordinatorLog()]]));
  const gate = deferred();
  const log = logs.get(0) as InMemoryCoordinatorLog;
  log.replayGate = gate.promise;
  const loading = runtime.load(0);
  assert.equal(runtime.status(0), ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
  assert.equal(await code(runtime.write(0, 'set', set('a', 1))), ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
  gate.resolve();
  await loading;
  assert.equal(runtime.status(0), ErrorCode.NONE);
  runtime.unload(0);
  assert.equal(runtime.status(0), ErrorCode.NOT_COORDINATOR);
  assert.equal(runtime.shard(0), undefined);
  assert.equal(await code(runtime.write(0, 'set', set('a', 1))), ErrorCode.NOT_COORDINATOR);
  assert.equal(log.records.length, 0);
});

for (const fault of ['before-write', 'after-write'] as const) {
  test(`a failed append (${fault}) answers NOT_COORDINATOR and reloads the partition from its log`, async () => {
    const { runtime, log, loaded } = setup();
    await runtime.load(0);
    await runtime.write(0, 'set', set('a', 1));
    log(0).nextFault = fault;
    const failed = runtime.write(0, 'set', set('b', 2));
    const queuedBehind = runtime.write(0, 'set', set('c', 3));
    assert.equal(await code(failed), ErrorCode.NOT_COORDINATOR);
    assert.equal(await code(queuedBehind), ErrorCode.NOT_COORDINATOR, 'queued on the dropped state');
    await runtime.idle();
    assert.deepEqual(loaded, [0, 0], 'loaded again');
    // The state is what the log holds: the record is there if the failure came after the write.
    const expected = new Map([['a', 1]]);
    if (fault === 'after-write') expected.set('b', 2);
    assert.deepEqual(runtime.shard(0)?.values, expected);
    assert.equal(await runtime.write(0, 'set', set('d', 4)), 'ok');
  });
}

test('timers run as write operations on the mock clock and go with the partition', async () => {
  const { runtime, clock, log } = setup();
  await runtime.load(0);
  const done: number[] = [];
  runtime.scheduleTimer(0, 'tick', 100, set('t', 1), () => done.push(clock.now()));
  clock.advance(99);
  await runtime.idle();
  assert.equal(log(0).records.length, 0);
  clock.advance(1);
  await runtime.idle();
  assert.equal(runtime.shard(0)?.values.get('t'), 1);
  assert.equal(done.length, 1);
  runtime.scheduleTimer(0, 'tick', 100, set('t', 2));
  runtime.unload(0);
  assert.equal(clock.pendingTimers, 0);
  clock.advance(1000);
  await runtime.load(0);
  assert.equal(runtime.shard(0)?.values.get('t'), 1);
});

test('an operation that throws changes nothing and the partition keeps serving', async () => {
  const { runtime, log } = setup();
  await runtime.load(0);
  await assert.rejects(
    runtime.write(0, 'bad', () => {
      throw new RangeError('bad input');
    }),
    RangeError,
  );
  assert.equal(log(0).appends, 0);
  assert.equal(await runtime.write(0, 'set', set('a', 1)), 'ok');
});

test('close lets queued operations finish, then refuses new ones', async () => {
  const { runtime, log } = setup();
  await runtime.load(0);
  const gate = deferred();
  log(0).appendGate = gate.promise;
  const inFlight = runtime.write(0, 'set', set('a', 1));
  const closing = runtime.close();
  assert.equal(await code(runtime.write(0, 'set', set('b', 2))), ErrorCode.NOT_COORDINATOR);
  gate.resolve();
  await closing;
  assert.equal(await inFlight, 'ok');
  assert.equal(log(0).records.length, 1);
});
