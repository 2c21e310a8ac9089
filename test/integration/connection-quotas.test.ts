/**
 * Connection limits from the outside: max.connections.per.ip and its overrides close the connections past them
 * (changed at run time through IncrementalAlterConfigs), max.connection.creation.rate and its listener override
 * hold new connections back without refusing any (reported in /metrics), and an address over its
 * `connection_creation_rate` quota (an `ip` entity of AlterClientQuotas, KIP-612) has its next connections closed
 * unanswered, while kcat from an address without a quota is served.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { Admin, type ClientQuotaEntityTypeValue } from '@platformatic/kafka';
import { type Broker, startBroker } from '../../src/index.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { apis } from '../../src/protocol/generated/index.js';
import { RawClient } from './raw-client.js';

const run = promisify(execFile);

/** Whether a new connection is answered (ApiVersions), or closed by the broker first. */
async function answered(port: number, from?: string): Promise<{ client: RawClient; answered: boolean }> {
  const client = await RawClient.connect(port, { localAddress: from });
  try {
    const r = await client.request(apis.ApiVersions, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' });
    assert.equal(r.errorCode, ErrorCode.NONE);
    return { client, answered: true };
  } catch {
    return { client, answered: false };
  }
}

async function withBroker(options: Parameters<typeof startBroker>[0], body: (b: Broker) => Promise<void>) {
  const b = await startBroker(options);
  try {
    await body(b);
  } finally {
    await b.stop();
  }
}

test('max.connections.per.ip closes the connections past it, an override raises it for one address, and both change at run time', () =>
  withBroker({ maxConnectionsPerIp: 1, maxConnectionsPerIpOverrides: new Map([['127.0.0.1', 2]]) }, async (b) => {
    const first = await answered(b.port);
    const second = await answered(b.port);
    const third = await answered(b.port);
    assert.deepEqual([first.answered, second.answered, third.answered], [true, true, false]);
    // Dynamic: the override removed, the default raised to 3 for every address.
    const altered = await first.client.request(apis.IncrementalAlterConfigs, 1, {
      resources: [
        {
          resourceType: 4,
          resourceName: '',
          configs: [
            { name: 'max.connections.per.ip', configOperation: 0, value: '3' },
            { name: 'max.connections.per.ip.overrides', configOperation: 0, value: '10.0.0.1:100' },
          ],
        },
      ],
      validateOnly: false,
    });
    assert.equal(altered.responses[0]!.errorCode, ErrorCode.NONE);
    const refused = await first.client.request(apis.IncrementalAlterConfigs, 1, {
      resources: [
        {
          resourceType: 4,
          resourceName: '',
          configs: [{ name: 'max.connections.per.ip.overrides', configOperation: 0, value: '10.0.0.1' }],
        },
      ],
      validateOnly: false,
    });
    assert.equal(refused.responses[0]!.errorCode, ErrorCode.INVALID_REQUEST);
    assert.match(
      refused.responses[0]!.errorMessage ?? '',
      /max\.connections\.per\.ip\.overrides: expected address:count/,
    );
    const fourth = await answered(b.port);
    const fifth = await answered(b.port);
    assert.deepEqual([fourth.answered, fifth.answered], [true, false]);
    for (const c of [first, second, third, fourth, fifth]) c.client.close();
  }));

/** The value of a metric with this listener label in the broker's /metrics. */
async function metric(b: Broker, name: string, listener: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${b.httpPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{listener="${listener}"}`));
  assert.ok(line, `${name} for ${listener} not in /metrics`);
  return Number(line.split(' ').at(-1));
}

test('max.connection.creation.rate and its listener override hold new connections back, refusing none', () =>
  withBroker(
    {
      httpListener: { host: '127.0.0.1', port: 0 },
      listeners: [
        { name: 'PLAINTEXT', host: '127.0.0.1', port: 0, advertisedHost: '127.0.0.1', advertisedPort: 0 },
        {
          name: 'SLOW',
          host: '127.0.0.1',
          port: 0,
          advertisedHost: '127.0.0.1',
          advertisedPort: 0,
          maxConnectionCreationRate: 1,
        },
      ],
    },
    async (b) => {
      const [plain, slow] = b.settings.listeners!.map((l) => l.port);
      // One a second over a window counted as at least ten seconds: the eleventh waits.
      const clients: RawClient[] = [];
      for (let i = 0; i < 12; i++) {
        const c = await answered(slow!);
        assert.equal(c.answered, true, `connection ${i} refused`);
        clients.push(c.client);
      }
      assert.ok((await metric(b, 'kafka_server_socket_server_metrics_connection_accept_throttle_time', 'SLOW')) > 0);
      // The other listener has no rate of its own, and the broker's is unbounded.
      for (let i = 0; i < 12; i++) clients.push((await answered(plain!)).client);
      assert.equal(
        await metric(b, 'kafka_server_socket_server_metrics_connection_accept_throttle_time', 'PLAINTEXT'),
        0,
      );
      for (const c of clients) c.close();
    },
  ));

test('connection_creation_rate on an ip entity: set and described with AlterClientQuotas, connections past it closed unanswered; another address is served (kcat)', () =>
  withBroker({ httpListener: { host: '127.0.0.1', port: 0 } }, async (b) => {
    const admin = new Admin({ clientId: 'ip-admin', bootstrapBrokers: [`127.0.0.1:${b.port}`] });
    const ip = (name: string | null) => [{ entityType: 'ip' as ClientQuotaEntityTypeValue, entityName: name }];
    try {
      const altered = await admin
        .alterClientQuotas({
          entries: [
            { entities: ip('127.0.0.2'), ops: [{ key: 'connection_creation_rate' as never, value: 1, remove: false }] },
            // A user's entity may not carry it, nor an ip entity another key.
            {
              entities: [{ entityType: 'user', entityName: 'alice' }],
              ops: [{ key: 'connection_creation_rate' as never, value: 1, remove: false }],
            },
          ],
        })
        .catch(
          (e: { errors?: Array<{ response?: { entries: Array<{ errorCode: number }> } }> }) =>
            e.errors?.[0]?.response?.entries,
        );
      assert.deepEqual(
        (altered as Array<{ errorCode: number }>).map((e) => e.errorCode),
        [ErrorCode.NONE, ErrorCode.INVALID_REQUEST],
      );
      const described = await admin.describeClientQuotas({
        components: [{ entityType: 'ip' as ClientQuotaEntityTypeValue, matchType: 0, match: '127.0.0.2' }],
      });
      assert.deepEqual(described, [
        {
          entity: [{ entityType: 'ip', entityName: '127.0.0.2' }],
          values: [{ key: 'connection_creation_rate', value: 1 }],
        },
      ]);
    } finally {
      await admin.close();
    }
    // From 127.0.0.2: ten in the first window pass, the eleventh is held and closed without an answer.
    const results: boolean[] = [];
    for (let i = 0; i < 11; i++) {
      const c = await answered(b.port, '127.0.0.2');
      results.push(c.answered);
      c.client.close();
    }
    assert.deepEqual(results, [...Array(10).fill(true), false]);
    assert.ok(
      (await metric(b, 'kafka_server_socket_server_metrics_ip_connection_accept_throttle_time', 'PLAINTEXT')) > 0,
    );
    // 127.0.0.1 has no quota: kcat's metadata request is answered (-m: how long it may wait, ample under load).
    const { stdout } = await run('kcat', ['-b', `127.0.0.1:${b.port}`, '-L', '-m', '60'], { timeout: 90_000 });
    assert.match(stdout, /1 brokers:/);
  }));

test("a listener's own max.connections set at run time (listener.name.<l>.max.connections) closes the connections past it", () =>
  withBroker({}, async (b) => {
    const first = await answered(b.port);
    const alter = (value: string | null) =>
      first.client.request(apis.IncrementalAlterConfigs, 1, {
        resources: [
          {
            resourceType: 4,
            resourceName: '0',
            configs: [
              { name: 'listener.name.plaintext.max.connections', configOperation: value === null ? 1 : 0, value },
            ],
          },
        ],
        validateOnly: false,
      });
    assert.equal((await alter('0')).responses[0]!.errorCode, ErrorCode.INVALID_REQUEST);
    assert.equal((await alter('2')).responses[0]!.errorCode, ErrorCode.NONE);
    const second = await answered(b.port);
    const third = await answered(b.port);
    assert.deepEqual([second.answered, third.answered], [true, false]);
    assert.equal((await alter(null)).responses[0]!.errorCode, ErrorCode.NONE);
    const fourth = await answered(b.port);
    assert.equal(fourth.answered, true);
    for (const c of [first, second, third, fourth]) c.client.close();
  }));
