import assert from 'node:assert/strict';
import { appendFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  EMBEDDED_METADATA_DIR,
  EmbeddedMetadataStore,
  JOURNAL_FILE,
  START_EMPTY_ENTRY,
} from '../../src/cluster/embedded-metadata-store.js';
import { createIfAbsent, type WatchEvent } from '../../src/cluster/metadata-store.js';
import { withTempDir } from '../storage/helpers.js';
import { fillDisk, smallDiskUnavailable, withSmallDisk } from '../storage/small-disk.js';

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

test('an entry after a torn journal tail is kept: the torn bytes are cut away at start-up, with a warning', () =>
  withTempDir(async (dir) => {
    const store = await EmbeddedMetadataStore.open(dir);
    await store.txn([], [{ type: 'put', key: '/topics/a', value: 'a' }]);
    await store.close();
    const journal = join(dir, EMBEDDED_METADATA_DIR, JOURNAL_FILE);
    await appendFile(journal, '{"revision":2,"events":[{"type":"put","key":"/topics/torn"');

    const warnings: string[] = [];
    const again = await EmbeddedMetadataStore.open(dir, { onWarning: (m, f) => warnings.push(`${m} ${f.path}`) });
    await again.txn([], [{ type: 'put', key: '/topics/b', value: 'b' }]);
    await again.txn([], [{ type: 'put', key: '/topics/c', value: 'c' }]);
    await again.close();

    const third = await EmbeddedMetadataStore.open(dir);
    assert.deepEqual(
      (await third.list('/topics/')).map((kv) => kv.value),
      ['a', 'b', 'c'],
    );
    await third.close();
    assert.ok(
      warnings.some((w) => w.includes('torn') && w.endsWith(journal)),
      warnings.join('; '),
    );
  }));

test('a missing or emptied journal in a log dir used before stops start-up, naming the file and the way out', () =>
  withTempDir(async (dir) => {
    const store = await EmbeddedMetadataStore.open(dir);
    await store.txn([], [{ type: 'put', key: '/topics/a', value: 'a' }]);
    await store.close();
    await writeFile(join(dir, 'meta.properties'), 'cluster.id=x\nnode.id=0\n');
    const journal = join(dir, EMBEDDED_METADATA_DIR, JOURNAL_FILE);
    const refused = (e: Error) => e.message.includes(journal) && e.message.includes(START_EMPTY_ENTRY);
    await rm(journal);
    await assert.rejects(EmbeddedMetadataStore.open(dir), refused);
    // The whole folder gone: the same.
    await rm(join(dir, EMBEDDED_METADATA_DIR), { recursive: true });
    await assert.rejects(EmbeddedMetadataStore.open(dir), refused);
    // Emptied, or left with only a torn entry: its entries are lost just the same.
    await writeFile(journal, '');
    await assert.rejects(EmbeddedMetadataStore.open(dir), refused);
    await writeFile(journal, '{"revision":1,"ev');
    await assert.rejects(EmbeddedMetadataStore.open(dir), refused);
    // The operator's choice to start with empty metadata.
    await writeFile(journal, `${START_EMPTY_ENTRY}\n`);
    const empty = await EmbeddedMetadataStore.open(dir);
    assert.equal(await empty.get('/topics/a'), null);
    await empty.txn([], [{ type: 'put', key: '/topics/b', value: 'b' }]);
    await empty.close();
    const again = await EmbeddedMetadataStore.open(dir);
    assert.equal((await again.get('/topics/b'))?.value, 'b');
    await again.close();
  }));

test('after a snapshot the journal is never empty: an emptied one is refused, not taken for the snapshot alone', () =>
  withTempDir(async (dir) => {
    const store = await EmbeddedMetadataStore.open(dir);
    await writeFile(join(dir, 'meta.properties'), 'cluster.id=x\nnode.id=0\n');
    // One entry more than a snapshot takes: the last one is in the journal after the snapshot.
    for (let i = 0; i <= 1000; i++) await store.txn([], [{ type: 'put', key: `/topics/t${i}`, value: 'x' }]);
    await store.close();
    const journal = join(dir, EMBEDDED_METADATA_DIR, JOURNAL_FILE);
    const again = await EmbeddedMetadataStore.open(dir);
    assert.equal((await again.list('/topics/')).length, 1001);
    await again.close();
    // Only the entry after the snapshot is lost, but the broker cannot know how many were.
    await truncate(journal, 0);
    await assert.rejects(EmbeddedMetadataStore.open(dir), (e: Error) => e.message.includes(journal));
    await writeFile(journal, `${START_EMPTY_ENTRY}\n`);
    const fromSnapshot = await EmbeddedMetadataStore.open(dir);
    assert.equal((await fromSnapshot.list('/topics/')).length, 1000);
    await fromSnapshot.close();
  }));

test('a fresh log dir starts empty, even after a first start cut short before its first entry', () =>
  withTempDir(async (dir) => {
    const store = await EmbeddedMetadataStore.open(dir);
    assert.deepEqual(await store.list('/'), []);
    await store.close();
    // No meta.properties yet: the first start never finished, nothing was acknowledged.
    const again = await EmbeddedMetadataStore.open(dir);
    await again.txn([], [{ type: 'put', key: '/cluster/id', value: 'x' }]);
    await again.close();
  }));

test(
  'disk full: a transaction whose entry is written in part fails, changes nothing, and nothing is lost after it',
  {
    skip: smallDiskUnavailable,
  },
  (t) =>
    withSmallDisk(t, async (dir) => {
      const store = await EmbeddedMetadataStore.open(dir);
      await store.txn([], [{ type: 'put', key: '/topics/a', value: 'a' }]);
      const revision = await store.revision();
      const filler = await fillDisk(dir);
      // Larger than what is left in the journal's last page: the write takes part of it, then the disk is full.
      await assert.rejects(store.txn([], [{ type: 'put', key: '/topics/big', value: 'x'.repeat(64 * 1024) }]));
      assert.equal(await store.get('/topics/big'), null);
      assert.equal(await store.revision(), revision);
      await rm(filler);
      await store.txn([], [{ type: 'put', key: '/topics/b', value: 'b' }]);
      await store.txn([], [{ type: 'put', key: '/topics/c', value: 'c' }]);
      await store.close();

      const again = await EmbeddedMetadataStore.open(dir);
      assert.deepEqual(
        (await again.list('/topics/')).map((kv) => kv.value),
        ['a', 'b', 'c'],
      );
      await again.close();
    }),
);

test(
  'disk full at a snapshot: the transaction still succeeds, the journal stays whole, and a restart has every entry',
  {
    skip: smallDiskUnavailable,
  },
  (t) =>
    withSmallDisk(t, async (dir) => {
      const warnings: string[] = [];
      const store = await EmbeddedMetadataStore.open(dir, { onWarning: (m) => warnings.push(m) });
      const KEYS = 1100; // the snapshot is written at the 1000th entry
      for (let i = 0; i < 990; i++) await store.txn([], [{ type: 'put', key: `/k/${i}`, value: String(i) }]);
      const filler = await fillDisk(dir);
      // Two pages free: room for the journal's next entries, not for a snapshot of every key.
      await truncate(filler, (await stat(filler)).size - 8192);
      for (let i = 990; i < KEYS; i++) await store.txn([], [{ type: 'put', key: `/k/${i}`, value: String(i) }]);
      assert.ok(
        warnings.some((w) => w.includes('snapshot')),
        warnings.join('; '),
      );
      await store.close();
      await rm(filler);

      const again = await EmbeddedMetadataStore.open(dir);
      assert.equal((await again.list('/k/')).length, KEYS);
      await again.close();
    }),
);
