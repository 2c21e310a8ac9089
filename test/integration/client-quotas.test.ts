/**
 * Client quotas from the outside: @platformatic/kafka's admin sets and describes them (AlterClientQuotas,
 * DescribeClientQuotas); confluent-kafka-python (librdkafka) producing and consuming past its client id's byte
 * rates is told to wait (its throttle callback fires) and loses nothing, while another client id is never
 * throttled. The quotas are kept in the metadata store and hold after a restart.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { Admin, type ClientQuotaKeyValue } from '@platformatic/kafka';
import { type Broker, startBroker } from '../../src/index.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { withTempDir } from '../storage/helpers.js';
import { PYTHON } from './clients.js';

const run = promisify(execFile);

/** Bytes per second: 120 KiB sent at once is a little over what ten seconds of this allow. */
const QUOTA = 10_000;
const RECORDS = 120;

let broker: Broker;

before(async () => {
  broker = await startBroker({});
});

after(async () => {
  await broker?.stop();
});

function admin(bootstrap: string): Admin {
  return new Admin({ clientId: 'quota-admin', bootstrapBrokers: [bootstrap] });
}

const clientId = (name: string | null) => ({ entityType: 'client-id' as const, entityName: name });

test('AlterClientQuotas and DescribeClientQuotas: set, match exact, default and any, strict, remove; a key of another entity type refused', async () => {
  const a = admin(broker.bootstrap);
  try {
    const altered = await a.alterClientQuotas({
      entries: [
        {
          entities: [clientId('throttled')],
          ops: [
            { key: 'producer_byte_rate', value: QUOTA, remove: false },
            { key: 'consumer_byte_rate', value: QUOTA, remove: false },
          ],
        },
        { entities: [clientId(null)], ops: [{ key: 'producer_byte_rate', value: 1e9, remove: false }] },
        {
          entities: [{ entityType: 'user', entityName: 'alice' }, clientId('reports')],
          ops: [{ key: 'consumer_byte_rate', value: 5e6, remove: false }],
        },
      ],
    });
    assert.deepEqual(
      altered.map((e) => e.errorCode),
      [ErrorCode.NONE, ErrorCode.NONE, ErrorCode.NONE],
    );
    // A key of ip entities is refused on a client id, not stored.
    await assert.rejects(
      a.alterClientQuotas({
        entries: [
          {
            entities: [clientId('x')],
            ops: [{ key: 'connection_creation_rate' as ClientQuotaKeyValue, value: 50, remove: false }],
          },
        ],
      }),
      (e: AggregateError) => {
        const { entries } = (
          e.errors[0] as { response: { entries: Array<{ errorCode: number; errorMessage: string }> } }
        ).response;
        assert.equal(entries[0]!.errorCode, ErrorCode.INVALID_REQUEST);
        assert.match(entries[0]!.errorMessage, /Invalid configuration key connection_creation_rate/);
        return true;
      },
    );

    const exact = await a.describeClientQuotas({
      components: [{ entityType: 'client-id', matchType: 0, match: 'throttled' }],
    });
    assert.deepEqual(exact, [
      {
        entity: [{ entityType: 'client-id', entityName: 'throttled' }],
        values: [
          { key: 'producer_byte_rate', value: QUOTA },
          { key: 'consumer_byte_rate', value: QUOTA },
        ],
      },
    ]);
    const defaults = await a.describeClientQuotas({ components: [{ entityType: 'client-id', matchType: 1 }] });
    assert.deepEqual(
      defaults.map((e) => e.entity),
      [[{ entityType: 'client-id', entityName: null }]],
    );
    // Not strict: entities naming other types as well match; strict: only those naming client-id alone.
    const any = await a.describeClientQuotas({ components: [{ entityType: 'client-id', matchType: 2 }] });
    assert.equal(any.length, 3);
    const strict = await a.describeClientQuotas({
      components: [{ entityType: 'client-id', matchType: 2 }],
      strict: true,
    });
    assert.equal(strict.length, 2);

    await a.alterClientQuotas({
      entries: [{ entities: [clientId(null)], ops: [{ key: 'producer_byte_rate', remove: true }] }],
    });
    assert.deepEqual(await a.describeClientQuotas({ components: [{ entityType: 'client-id', matchType: 1 }] }), []);
  } finally {
    await a.close();
  }
});

/** Produces RECORDS records of 1 KiB and reads them back with this client id; the throttle times reported. */
async function produceAndConsume(bootstrap: string, id: string, topic: string) {
  const script = `
import sys, json
from confluent_kafka import Producer, Consumer, TopicPartition
bootstrap, client_id, topic, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
produce_throttles, fetch_throttles = [], []
p = Producer({'bootstrap.servers': bootstrap, 'client.id': client_id, 'acks': 'all', 'batch.size': 16384,
              'throttle_cb': lambda e: produce_throttles.append(e.throttle_time)})
for i in range(count): p.produce(topic, value=(f'{i:05d}' + 'x' * 1019).encode())
assert p.flush(60) == 0
p.poll(0)
c = Consumer({'bootstrap.servers': bootstrap, 'client.id': client_id, 'group.id': client_id,
              'auto.offset.reset': 'earliest', 'enable.auto.commit': False,
              'throttle_cb': lambda e: fetch_throttles.append(e.throttle_time)})
c.assign([TopicPartition(topic, 0, 0)])
got = []
while len(got) < count:
    m = c.poll(30)
    if m is None: break
    if m.error(): raise Exception(m.error())
    got.append(m.value()[:5].decode())
c.close()
print(json.dumps({'got': got, 'produce': produce_throttles, 'fetch': fetch_throttles}))
`;
  const { stdout } = await run(PYTHON, ['-c', script, bootstrap, id, topic, String(RECORDS)], { timeout: 120_000 });
  return JSON.parse(stdout) as { got: string[]; produce: number[]; fetch: number[] };
}

test('a client over its byte rates is throttled (librdkafka sees throttle_time_ms) and nothing is lost; another client id is not', async () => {
  const expected = Array.from({ length: RECORDS }, (_, i) => String(i).padStart(5, '0'));
  const throttled = await produceAndConsume(broker.bootstrap, 'throttled', 'quota-throttled');
  assert.deepEqual(throttled.got, expected);
  assert.ok(
    throttled.produce.some((t) => t > 0),
    `produce throttle times: ${throttled.produce}`,
  );
  assert.ok(
    throttled.fetch.some((t) => t > 0),
    `fetch throttle times: ${throttled.fetch}`,
  );
  const free = await produceAndConsume(broker.bootstrap, 'unlimited', 'quota-free');
  assert.deepEqual(free.got, expected);
  assert.deepEqual(
    free.produce.filter((t) => t > 0),
    [],
  );
  assert.deepEqual(
    free.fetch.filter((t) => t > 0),
    [],
  );
});

test('quotas are kept in the metadata store: a restarted broker enforces and describes them', async () => {
  await withTempDir(async (dir) => {
    const first = await startBroker({ logDirs: [dir] });
    const a = admin(first.bootstrap);
    await a.alterClientQuotas({
      entries: [{ entities: [clientId('batch')], ops: [{ key: 'producer_byte_rate', value: 1234, remove: false }] }],
    });
    await a.close();
    await first.stop();
    const second = await startBroker({ logDirs: [dir] });
    try {
      const b = admin(second.bootstrap);
      const described = await b.describeClientQuotas({ components: [{ entityType: 'client-id', matchType: 2 }] });
      await b.close();
      assert.deepEqual(described, [
        {
          entity: [{ entityType: 'client-id', entityName: 'batch' }],
          values: [{ key: 'producer_byte_rate', value: 1234 }],
        },
      ]);
    } finally {
      await second.stop();
    }
  });
});
