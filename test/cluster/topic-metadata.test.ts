import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EmbeddedMetadataStore } from '../../src/cluster/embedded-metadata-store.js';
import {
  DELETED_TOPICS_PREFIX,
  ensureClusterId,
  newUuid,
  TopicMetadata,
  type TopicRecord,
} from '../../src/cluster/topic-metadata.js';
import { topicNameError } from '../../src/cluster/topic-name.js';
import { withTempDir } from '../storage/helpers.js';

function topic(name: string, partitions = 1): TopicRecord {
  return {
    name,
    id: newUuid(),
    partitions: Array.from({ length: partitions }, (_, partition) => ({
      partition,
      leader: 0,
      leaderEpoch: 0,
      replicas: [0],
      isr: [0],
    })),
    configs: {},
  };
}

test('topic names follow Kafka rules', () => {
  for (const good of ['a', 'orders.v1', 'my_topic-2', 'x'.repeat(249)]) assert.equal(topicNameError(good), null, good);
  for (const bad of ['', '.', '..', 'x'.repeat(250), 'has space', 'slash/no', 'ünï']) {
    assert.notEqual(topicNameError(bad), null, bad);
  }
});

test('topics are created once, found by name and id, survive a restart, and collide on . versus _', () =>
  withTempDir(async (dir) => {
    const store = await EmbeddedMetadataStore.open(dir);
    const clusterId = await ensureClusterId(store);
    assert.equal(await ensureClusterId(store), clusterId, 'the cluster id is stable');
    const topics = await TopicMetadata.load(store);
    const orders = topic('orders.v1', 3);
    assert.ok(await topics.create(orders));
    assert.equal(await topics.create(topic('orders.v1')), null);
    assert.equal(topics.getById(orders.id)!.name, 'orders.v1');
    assert.equal(topics.collidingTopic('orders_v1'), 'orders.v1');
    assert.equal(topics.collidingTopic('orders.v1'), undefined);

    const changed = { ...orders, configs: { 'retention.ms': '1000' } };
    assert.equal(await topics.update(changed), true);
    topics.close();
    await store.close();

    const store2 = await EmbeddedMetadataStore.open(dir);
    assert.equal(await ensureClusterId(store2), clusterId);
    const again = await TopicMetadata.load(store2);
    assert.deepEqual(again.get('orders.v1'), changed);
    assert.equal(await again.delete('orders.v1'), true);
    assert.equal(again.get('orders.v1'), undefined);
    again.close();
    await store2.close();
  }));

test('a second view of the same store sees changes through the watch', () =>
  withTempDir(async (dir) => {
    const store = await EmbeddedMetadataStore.open(dir);
    const a = await TopicMetadata.load(store);
    const b = await TopicMetadata.load(store);
    const seen: string[] = [];
    b.onChange((names) => seen.push(...names));
    await a.create(topic('t1'));
    assert.ok(b.get('t1'));
    const stale = { ...b.get('t1')!, configs: { x: '1' } };
    await a.update({ ...a.get('t1')!, configs: { y: '2' } });
    assert.equal(await b.update(stale), true, 'b saw the change, so its revision is current');
    await a.delete('t1');
    assert.deepEqual(seen, ['t1', 't1', 't1', 't1'], "create, a's update, b's own update, delete");
    a.close();
    b.close();
    await store.close();
  }));

test('resync brings a view whose watch brought nothing (a broker cut off from the store) to the current records', () =>
  withTempDir(async (dir) => {
    const store = await EmbeddedMetadataStore.open(dir);
    const a = await TopicMetadata.load(store);
    const moved = topic('moved');
    const gone = topic('gone');
    await a.create(moved);
    await a.create(gone);
    const b = await TopicMetadata.load(store);
    // Its watches end: from here on b sees only what resync reads.
    b.close();
    const seen: string[] = [];
    b.onChange((names) => seen.push(...names));
    const failedOver = { ...a.get('moved')!, partitions: [{ ...moved.partitions[0]!, leader: 3, leaderEpoch: 1 }] };
    assert.equal(await a.update(failedOver), true);
    await a.delete('gone');
    const created = topic('created');
    await a.create(created);
    assert.equal(b.get('moved')!.partitions[0]!.leader, 0, 'b is behind');

    await b.resync();
    assert.deepEqual(b.get('moved'), failedOver);
    assert.equal(b.get('gone'), undefined);
    assert.equal(b.isDeleted(gone.id), true);
    assert.deepEqual(b.get('created'), created);
    assert.deepEqual([...seen].sort(), ['created', 'gone', 'moved']);
    // Nothing changed since: nothing announced again.
    await b.resync();
    assert.equal(seen.length, 3);
    a.close();
    await store.close();
  }));

test('a deleted topic id is recorded with the deletion, seen by other views, and kept across a restart', () =>
  withTempDir(async (dir) => {
    const store = await EmbeddedMetadataStore.open(dir);
    const view = await TopicMetadata.load(store);
    const other = await TopicMetadata.load(store);
    const orders = topic('orders');
    await view.create(orders);
    assert.equal(view.isDeleted(orders.id), false);
    assert.equal(await view.delete('orders'), true);
    assert.equal(view.isDeleted(orders.id), true);
    assert.equal(other.isDeleted(orders.id), true);
    view.close();
    other.close();
    await store.close();

    const again = await EmbeddedMetadataStore.open(dir);
    const reloaded = await TopicMetadata.load(again);
    assert.equal(reloaded.isDeleted(orders.id), true);
    assert.equal(reloaded.get('orders'), undefined);
    reloaded.close();
    await again.close();
  }));

test("a deletion's topic id is known when listeners hear of it, even when the deleted-ids watch delivers later", () =>
  withTempDir(async (dir) => {
    const store = await EmbeddedMetadataStore.open(dir);
    // The store as etcd may serve it: the events of two watches in either order. Here the deleted-ids watch
    // delivers only when released.
    const held: Array<() => void> = [];
    const late = new Proxy(store, {
      get(target, key) {
        if (key !== 'watch') return Reflect.get(target, key, target);
        return (prefix: string, from: number, listener: Parameters<EmbeddedMetadataStore['watch']>[2]) =>
          target.watch(prefix, from, (events, revision) => {
            if (prefix === DELETED_TOPICS_PREFIX) held.push(() => listener(events, revision));
            else listener(events, revision);
          });
      },
    });
    const deleting = await TopicMetadata.load(store);
    const watching = await TopicMetadata.load(late);
    const orders = topic('orders');
    await deleting.create(orders);
    const known: boolean[] = [];
    watching.onChange(() => known.push(watching.isDeleted(orders.id)));
    assert.equal(await deleting.delete('orders'), true);
    assert.equal(watching.get('orders'), undefined, 'the topics watch delivered the deletion');
    assert.ok(held.length > 0, 'the deleted-ids watch has not');
    assert.deepEqual(known, [true], 'the listener heard of the deletion with the id known as deleted');
    for (const deliver of held) deliver();
    assert.equal(watching.isDeleted(orders.id), true);
    deleting.close();
    watching.close();
    await store.close();
  }));

test('deleted topic ids are bounded: the oldest are forgotten first', () =>
  withTempDir(async (dir) => {
    const store = await EmbeddedMetadataStore.open(dir);
    const view = await TopicMetadata.load(store, { maxDeletedTopicIds: 2 });
    const ids: string[] = [];
    for (const name of ['a', 'b', 'c']) {
      const t = topic(name);
      ids.push(t.id);
      await view.create(t);
      await view.delete(name);
    }
    assert.deepEqual(
      ids.map((id) => view.isDeleted(id)),
      [false, true, true],
    );
    view.close();
    const reloaded = await TopicMetadata.load(store);
    assert.deepEqual(
      ids.map((id) => reloaded.isDeleted(id)),
      [false, true, true],
    );
    reloaded.close();
    await store.close();
  }));
