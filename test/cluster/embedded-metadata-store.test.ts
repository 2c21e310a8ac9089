import assert from 'node:assert/strict';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { EMBEDDED_METADATA_DIR, EmbeddedMetadataStore } from '../../src/cluster/embedded-metadata-store.js';
import { createIfAbsent, type WatchEvent } from '../../src/cluster/metadata-store.js';
import { withTempDir } from '../storage/helpers.js';

test('compare-and-set transactions apply atomically or not at all', () =>
  withTempDir(async (dir) => {
    const store = await EmbeddedMetadataStore.open(dir);
    assert.equal(await createIfAbsent(store, '/topics/a', '{"partitions":1}'), true);
    assert.equal(await createIfAbsent(store, '/topics/a', '{"partitions":2}'), false);
    const a = (await store.get('/topics/a'))!;
    const ok = await store.txn(
      [{ key: '/topics/a', modRevision: a.modRevision }],
      [
        { type: 'put', key: '/topics/a', value: '{"partitions":3}' },
        { type: 'put', key: '/topics/b', value: '{}' },
      ],
    );
    assert.equal(ok.succeeded, true);
    const stale = await store.txn(
      [{ key: '/topics/a', modRevision: a.modRevision }],
      [{ type: 'delete', key: '/topics/b' }],
    );
    assert.equal(stale.succeeded, false);
    assert.deepEqual(
      (await store.list('/topics/')).map((kv) => kv.key),
      ['/topics/a', '/topics/b'],
    );
    await store.close();
  }));

test('state survives a restart, and a torn last journal line is ignored', () =>
  withTempDir(async (dir) => {
    const store = await EmbeddedMetadataStore.open(dir);
    for (let i = 0; i < 1500; i++) await store.txn([], [{ type: 'put', key: `/k/${i % 10}`, value: String(i) }]);
    await store.txn([], [{ type: 'delete', key: '/k/0' }]);
    const revision = await store.revision();
    await store.close();
    await appendFile(join(dir, EMBEDDED_METADATA_DIR, 'journal.jsonl'), '{"revision":99999,"ev');

    const again = await EmbeddedMetadataStore.open(dir);
    assert.equal(await again.revision(), revision);
    assert.equal(await again.get('/k/0'), null);
    assert.equal((await again.get('/k/9'))!.value, '1499');
    assert.equal((await again.list('/k/')).length, 9);
    await again.close();
  }));

test('watchers see changes under their prefix in order', () =>
  withTempDir(async (dir) => {
    const store = await EmbeddedMetadataStore.open(dir);
    const seen: WatchEvent[] = [];
    const stop = store.watch('/brokers/', await store.revision(), (events) => seen.push(...events));
    await store.txn([], [{ type: 'put', key: '/brokers/1', value: 'a' }]);
    await store.txn([], [{ type: 'put', key: '/topics/x', value: 'b' }]);
    await store.txn([], [{ type: 'delete', key: '/brokers/1' }]);
    stop();
    await store.txn([], [{ type: 'put', key: '/brokers/2', value: 'c' }]);
    assert.deepEqual(
      seen.map((e) => `${e.type} ${e.type === 'put' ? e.kv.key : e.key}`),
      ['put /brokers/1', 'delete /brokers/1'],
    );
    await store.close();
  }));

test('keys put with a lease disappear when the lease expires and are not persisted', () =>
  withTempDir(async (dir) => {
    const store = await EmbeddedMetadataStore.open(dir);
    const lease = await store.grantLease(50);
    await store.txn([], [{ type: 'put', key: '/brokers/0', value: 'alive', lease }]);
    assert.ok(await store.get('/brokers/0'));
    await new Promise((r) => setTimeout(r, 120));
    assert.equal(await store.get('/brokers/0'), null);

    const kept = await store.grantLease(10_000);
    await store.txn([], [{ type: 'put', key: '/brokers/1', value: 'alive', lease: kept }]);
    await store.close();
    const again = await EmbeddedMetadataStore.open(dir);
    assert.equal(await again.get('/brokers/1'), null, 'ephemeral keys end with the process');
    await again.close();
  }));
