import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EmbeddedMetadataStore } from '../../src/cluster/embedded-metadata-store.js';
import { EtcdMetadataStore, WatchCompactedError } from '../../src/cluster/etcd-metadata-store.js';
import {
  createIfAbsent,
  LeaseLostError,
  type MetadataStore,
  type WatchEvent,
} from '../../src/cluster/metadata-store.js';
import { TopicMetadata } from '../../src/cluster/topic-metadata.js';
import { withTempDir } from '../storage/helpers.js';
import { etcdUnavailable, startEtcd, withEtcd } from './etcd.js';

/**
 * Waits for `condition` (watch events arrive asynchronously on etcd), failing as hung after `timeoutMs`: a bound on a
 * hang, not a timing assertion, so ample (etcd and this process share a loaded machine).
 */
export async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const describeEvent = (e: WatchEvent) => `${e.type} ${e.type === 'put' ? `${e.kv.key}=${e.kv.value}` : e.key}`;

/** The same behaviour, whichever store is under it. */
const implementations: {
  name: string;
  skip: string | false;
  with: (fn: (s: MetadataStore) => Promise<void>) => Promise<void>;
}[] = [
  {
    name: 'embedded',
    skip: false,
    with: (fn) =>
      withTempDir(async (dir) => {
        const store = await EmbeddedMetadataStore.open(dir);
        try {
          await fn(store);
        } finally {
          await store.close();
        }
      }),
  },
  {
    name: 'etcd',
    skip: etcdUnavailable,
    with: (fn) =>
      withEtcd(async (etcd) => {
        const store = await EtcdMetadataStore.open({ endpoints: [etcd.endpoint], prefix: '/samsa/contract' });
        try {
          await fn(store);
        } finally {
          await store.close();
        }
      }),
  },
];

for (const impl of implementations) {
  describe(`MetadataStore contract: ${impl.name}`, { skip: impl.skip }, () => {
    test('compare-and-set transactions apply atomically or not at all, and the revision moves with each', () =>
      impl.with(async (store) => {
        const start = await store.revision();
        assert.equal(await createIfAbsent(store, '/topics/a', '1'), true);
        assert.equal(await createIfAbsent(store, '/topics/a', '2'), false);
        const a = (await store.get('/topics/a'))!;
        assert.equal(a.value, '1');
        assert.ok(a.modRevision > start);
        const ok = await store.txn(
          [{ key: '/topics/a', modRevision: a.modRevision }],
          [
            { type: 'put', key: '/topics/a', value: '3' },
            { type: 'put', key: '/topics/b', value: '{}' },
          ],
        );
        assert.equal(ok.succeeded, true);
        assert.equal(ok.revision, await store.revision());
        const stale = await store.txn(
          [{ key: '/topics/a', modRevision: a.modRevision }],
          [{ type: 'delete', key: '/topics/b' }],
        );
        assert.equal(stale.succeeded, false);
        assert.equal(stale.revision, ok.revision);
        await store.txn([], [{ type: 'put', key: '/topicsX', value: 'outside the prefix' }]);
        assert.deepEqual(
          (await store.list('/topics/')).map((kv) => `${kv.key}=${kv.value}`),
          ['/topics/a=3', '/topics/b={}'],
        );
        await store.txn([], [{ type: 'delete', key: '/topics/a' }]);
        assert.equal(await store.get('/topics/a'), null);
      }));

    test('a watch delivers every change under its prefix after its revision, in order, until stopped', () =>
      impl.with(async (store) => {
        const seen: WatchEvent[] = [];
        const revisions: number[] = [];
        const stop = store.watch('/brokers/', await store.revision(), (events, revision) => {
          seen.push(...events);
          revisions.push(revision);
        });
        for (let i = 0; i < 20; i++) await store.txn([], [{ type: 'put', key: `/brokers/${i % 3}`, value: String(i) }]);
        await store.txn([], [{ type: 'put', key: '/topics/x', value: 'b' }]);
        await store.txn([], [{ type: 'delete', key: '/brokers/1' }]);
        await until(() => seen.length === 21, 'every event');
        stop();
        await store.txn([], [{ type: 'put', key: '/brokers/9', value: 'after stop' }]);
        const expected = [...Array.from({ length: 20 }, (_, i) => `put /brokers/${i % 3}=${i}`), 'delete /brokers/1'];
        assert.deepEqual(seen.map(describeEvent), expected);
        assert.deepEqual(
          revisions,
          [...revisions].sort((x, y) => x - y),
        );
      }));

    test('keys put with a lease live while it is kept alive and go when it is revoked or expires', () =>
      impl.with(async (store) => {
        const lease = await store.grantLease(1000);
        await store.txn([], [{ type: 'put', key: '/brokers/0', value: 'alive', lease }]);
        assert.equal((await store.get('/brokers/0'))?.lease, lease);
        await store.keepAlive(lease);
        await store.revokeLease(lease);
        assert.equal(await store.get('/brokers/0'), null);
        // A lease gone is one answer on every store: LeaseLostError, and a second revoke is no error.
        await assert.rejects(store.keepAlive(lease), LeaseLostError);
        await assert.rejects(store.txn([], [{ type: 'put', key: '/brokers/0', value: 'late', lease }]), LeaseLostError);
        assert.equal(await store.get('/brokers/0'), null);
        await store.revokeLease(lease);

        const short = await store.grantLease(1000);
        await store.txn([], [{ type: 'put', key: '/brokers/1', value: 'alive', lease: short }]);
        await until(async () => (await store.get('/brokers/1')) === null, 'the lease to expire');
      }));
  });
}

describe('etcd store', { skip: etcdUnavailable }, () => {
  test('clusters with different prefixes share one etcd without seeing each other', () =>
    withEtcd(async (etcd) => {
      const a = await EtcdMetadataStore.open({ endpoints: [etcd.endpoint], prefix: '/samsa/a' });
      const b = await EtcdMetadataStore.open({ endpoints: [etcd.endpoint], prefix: '/samsa/b' });
      await a.txn([], [{ type: 'put', key: '/cluster/id', value: 'A' }]);
      assert.equal(await createIfAbsent(b, '/cluster/id', 'B'), true);
      assert.equal((await a.get('/cluster/id'))?.value, 'A');
      assert.deepEqual(
        (await b.list('/')).map((kv) => kv.key),
        ['/cluster/id'],
      );
      await a.close();
      await b.close();
    }));

  test('TopicMetadata on etcd announces its own creates and deletes once, and an older event never undoes a newer one', () =>
    withEtcd(async (etcd) => {
      const store = await EtcdMetadataStore.open({ endpoints: [etcd.endpoint], prefix: '/samsa/t' });
      const topics = await TopicMetadata.load(store);
      const changes: string[] = [];
      topics.onChange((names) => changes.push(...names));
      const record = (name: string) => ({ name, id: `${name}-id`, partitions: [], configs: {} });
      assert.ok(await topics.create(record('t')));
      assert.deepEqual(changes, ['t'], 'announced when the create returns');
      assert.equal(await topics.delete('t'), true);
      assert.equal(topics.get('t'), undefined);
      assert.ok(await topics.create(record('u')));
      // A write from elsewhere only the watch brings: once it is announced, every event before it was seen too.
      await store.txn([], [{ type: 'put', key: '/topics/v', value: JSON.stringify(record('v')) }]);
      await until(() => changes.includes('v'), 'the watch to bring v');
      assert.deepEqual(changes, ['t', 't', 'u', 'v']);
      assert.equal(topics.get('t'), undefined, 'the create event seen after the delete did not bring t back');
      topics.close();
      await store.close();
    }));

  test('a watch resumes after etcd restarts, missing nothing in between; a compacted revision is an error', async () => {
    const etcd = await startEtcd();
    try {
      const store = await EtcdMetadataStore.open({ endpoints: [etcd.endpoint], prefix: '/samsa/w' });
      const seen: string[] = [];
      const stop = store.watch('/k/', await store.revision(), (events) => seen.push(...events.map(describeEvent)));
      await store.txn([], [{ type: 'put', key: '/k/1', value: 'a' }]);
      await until(() => seen.length === 1, 'the first event');
      await etcd.stop();
      await etcd.start();
      await store.txn([], [{ type: 'put', key: '/k/2', value: 'b' }]);
      await store.txn([], [{ type: 'delete', key: '/k/1' }]);
      await until(() => seen.length === 3, 'the events written while the watch reconnected');
      assert.deepEqual(seen, ['put /k/1=a', 'put /k/2=b', 'delete /k/1']);
      stop();

      const old = await store.revision();
      for (let i = 0; i < 5; i++) await store.txn([], [{ type: 'put', key: '/k/3', value: String(i) }]);
      const r = await fetch(`${etcd.endpoint}/v3/kv/compaction`, {
        method: 'POST',
        body: JSON.stringify({ revision: String(await store.revision()) }),
      });
      assert.equal(r.status, 200);
      const errors: Error[] = [];
      const late: string[] = [];
      store.watch(
        '/k/',
        old,
        (events) => late.push(...events.map(describeEvent)),
        (e) => errors.push(e),
      );
      await until(() => errors.length === 1, 'the compaction error');
      assert.ok(errors[0] instanceof WatchCompactedError, String(errors[0]));
      assert.deepEqual(late, []);
      await store.close();
    } finally {
      await etcd.destroy();
    }
  });
});
