import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ClientQuotaManager,
  CONSUMER_BYTE_RATE,
  CONTROLLER_MUTATION_RATE,
  ControllerMutationQuota,
  MAX_REQUEST_THROTTLE_MS,
  PRODUCER_BYTE_RATE,
  QUOTA_WINDOW_NUM,
  QUOTA_WINDOW_SIZE_MS,
  REQUEST_PERCENTAGE,
  SampledRate,
  TokenBucket,
} from '../../src/broker/client-quota-manager.js';
import { ClientQuotaMetadata, type QuotaEntity } from '../../src/cluster/client-quotas.js';
import { EmbeddedMetadataStore } from '../../src/cluster/embedded-metadata-store.js';
import { withTempDir } from '../storage/helpers.js';

test('a sampled rate counts at least all but one full window, and forgets samples older than the window', () => {
  const rate = new SampledRate();
  const t0 = 1_000_000;
  rate.record(10_000, t0);
  // One burst is spread over (samples - 1) windows, not over the milliseconds it took.
  assert.equal(rate.windowMs(t0), (QUOTA_WINDOW_NUM - 1) * QUOTA_WINDOW_SIZE_MS);
  assert.equal(rate.rate(t0), 1_000);
  // 5.5 s later the samples cover 5.5 s, counted as 5.5 + 5 (the full windows still missing) = 10.5 s.
  rate.record(10_000, t0 + 5_500);
  assert.equal(rate.windowMs(t0 + 5_500), 10_500);
  assert.equal(rate.rate(t0 + 5_500), (20_000 * 1000) / 10_500);
  // Past the whole window the first sample no longer counts.
  const later = t0 + QUOTA_WINDOW_NUM * QUOTA_WINDOW_SIZE_MS + 1;
  assert.equal(rate.rate(later), (10_000 * 1000) / rate.windowMs(later));
  assert.equal(rate.windowMs(later), 10_501);
  rate.unrecord(10_000);
  assert.equal(rate.rate(later), 0);
});

const user = (name: string | null) => ({ entityType: 'user' as const, entityName: name });
const client = (name: string | null) => ({ entityType: 'client-id' as const, entityName: name });

test("quotas resolve by Kafka's precedence, and the throttle time brings the rate back to the quota", async () => {
  await withTempDir(async (dir) => {
    const store = await EmbeddedMetadataStore.open(dir);
    try {
      const quotas = await ClientQuotaMetadata.load(store);
      const manager = new ClientQuotaManager(quotas);
      const set = (entity: QuotaEntity, value: number) =>
        quotas.apply([{ entity, set: new Map([[PRODUCER_BYTE_RATE, value]]), remove: [] }]);
      const now = 5_000_000;
      assert.equal(manager.record(PRODUCER_BYTE_RATE, 'alice', 'app', 1e9, now), 0, 'no quota, no throttle');

      await set([client(null)], 1_000);
      // 20,000 bytes at once: 2,000 B/s over the 10 s window, twice the quota, so 10 s to wait.
      assert.equal(manager.record(PRODUCER_BYTE_RATE, 'alice', 'app', 20_000, now), 10_000);
      // The client-id default gives each client id its own rate.
      assert.equal(manager.record(PRODUCER_BYTE_RATE, 'alice', 'other', 5_000, now), 0);
      // Consumer bytes are another quota.
      assert.equal(manager.record(CONSUMER_BYTE_RATE, 'alice', 'app', 1e9, now), 0);

      // A user quota comes before any client-id quota, and the user's clients share its rate.
      await set([user('bob')], 100_000);
      assert.equal(manager.record(PRODUCER_BYTE_RATE, 'bob', 'app', 900_000, now), 0);
      assert.ok(manager.record(PRODUCER_BYTE_RATE, 'bob', 'other', 200_000, now) > 0, "bob's clients share a rate");
      // (user, client-id) beats the user alone.
      await set([user('bob'), client('batch')], 10_000_000);
      assert.equal(manager.record(PRODUCER_BYTE_RATE, 'bob', 'batch', 1_000_000, now), 0);
      // The user default applies to users without their own quota, each with its own rate.
      await set([user(null)], 50);
      assert.ok(manager.record(PRODUCER_BYTE_RATE, 'carol', 'app', 1_000, now) > 0);
      assert.equal(manager.record(PRODUCER_BYTE_RATE, 'dave', 'app', 400, now), 0);
      // Removing a quota takes effect at once.
      await quotas.apply([{ entity: [user(null)], set: new Map(), remove: [PRODUCER_BYTE_RATE] }]);
      assert.equal(manager.record(PRODUCER_BYTE_RATE, 'erin', 'fresh', 4_000, now), 0, 'client-id default again');
      assert.equal(quotas.get([user(null)]), undefined);
      quotas.close();

      // Another broker's view (a fresh load) holds the same quotas.
      const reloaded = await ClientQuotaMetadata.load(store);
      assert.equal(reloaded.get([user('bob'), client('batch')])?.get(PRODUCER_BYTE_RATE), 10_000_000);
      assert.equal(reloaded.get([client(null)])?.get(PRODUCER_BYTE_RATE), 1_000);
      reloaded.close();
    } finally {
      await store.close();
    }
  });
});

test('a token bucket starts full (the rate over the whole window), refills at the rate, and says how long until it is back at zero', () => {
  const bucket = new TokenBucket(2);
  const t0 = 5_000_000;
  assert.equal(bucket.measure(t0), 2 * QUOTA_WINDOW_NUM);
  bucket.record(30, t0);
  assert.equal(bucket.measure(t0), 2 * QUOTA_WINDOW_NUM - 30);
  assert.equal(bucket.throttleTimeMs(-8), 4_000);
  assert.equal(bucket.measure(t0 + 1_000), 2 * QUOTA_WINDOW_NUM - 28);
  assert.equal(bucket.measure(t0 + 3_600_000), 2 * QUOTA_WINDOW_NUM, 'never above the burst');
});

test('a strict controller mutation quota lets through the mutation that spends it and refuses the next; a permissive one only throttles', () => {
  const t0 = 1_000;
  const strict = new ControllerMutationQuota(new TokenBucket(1), true);
  assert.equal(strict.record(10, t0), true);
  assert.equal(strict.record(5, t0), true, 'credits left: passes, and takes them below zero');
  assert.equal(strict.throttleTimeMs(t0), 0, 'nothing refused yet');
  assert.equal(strict.record(1, t0), false);
  assert.equal(strict.throttleTimeMs(t0), 4_000);
  assert.equal(strict.throttleTimeMs(t0 + 1_500), 2_500, 'less the time since it was found');
  const permissive = new ControllerMutationQuota(new TokenBucket(1), false);
  assert.equal(permissive.record(20, t0), true);
  assert.equal(permissive.record(20, t0), true);
  assert.equal(permissive.throttleTimeMs(t0), 29_000);
  const unbounded = new ControllerMutationQuota(null, true);
  assert.equal(unbounded.record(1e6, t0), true);
  assert.equal(unbounded.throttleTimeMs(t0), 0);
});

test('request_percentage throttles for at most one window, and controller_mutation_rate is resolved like the other quotas', async () => {
  await withTempDir(async (dir) => {
    const store = await EmbeddedMetadataStore.open(dir);
    try {
      const quotas = await ClientQuotaMetadata.load(store);
      const manager = new ClientQuotaManager(quotas);
      assert.equal(manager.hasRequestQuota('alice', 'app'), false);
      await quotas.apply([
        {
          entity: [user('alice')],
          set: new Map([
            [REQUEST_PERCENTAGE, 1],
            [CONTROLLER_MUTATION_RATE, 1],
          ]),
          remove: [],
        },
      ]);
      assert.equal(manager.hasRequestQuota('alice', 'app'), true);
      assert.equal(manager.hasRequestQuota('bob', 'app'), false);
      const now = 10_000_000;
      // 100 percent-seconds against 1%: far over, but the wait is one window at most.
      assert.equal(manager.record(REQUEST_PERCENTAGE, 'alice', 'app', 100, now), MAX_REQUEST_THROTTLE_MS);
      const quota = manager.controllerMutationQuota('alice', 'other', true, now);
      assert.equal(quota.record(QUOTA_WINDOW_NUM + 1, now), true);
      // The bucket is the user's: another client id of alice's finds it spent.
      assert.equal(manager.controllerMutationQuota('alice', 'third', true, now).record(1, now), false);
      assert.equal(manager.controllerMutationQuota('bob', 'app', true, now).record(1e6, now), true);
      quotas.close();
    } finally {
      await store.close();
    }
  });
});
