import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConnectionQuotas } from '../../src/server/connection-quotas.js';

const limits = {
  maxConnections: 1,
  maxConnectionCreationRate: 1,
  maxConnectionsPerIp: 100,
  maxConnectionsPerIpOverrides: new Map<string, number>(),
};

test("the inter-broker listener is not held by the broker-wide max.connections and creation rate, as Kafka's", () => {
  const quotas = new ConnectionQuotas(limits, () => undefined, 'BROKER');
  assert.equal(quotas.opened('10.0.0.1'), true);
  // The broker is full: a client listener has no slot, the inter-broker listener still has (within its own bound).
  assert.equal(quotas.slotAvailable(0, {}, 'CLIENT'), false);
  assert.equal(quotas.slotAvailable(0, {}, 'BROKER'), true);
  assert.equal(quotas.slotAvailable(2, { maxConnections: 2 }, 'BROKER'), false);
  // Past the broker's creation rate, clients wait; brokers do not (their listener's own rate still holds them).
  const now = 1_000_000;
  const clientThrottles = Array.from({ length: 50 }, () => quotas.recordConnection('CLIENT', {}, now));
  assert.ok(clientThrottles.at(-1)! > 0, 'clients wait');
  for (let i = 0; i < 50; i++) assert.equal(quotas.recordConnection('BROKER', {}, now), 0);
  const brokerThrottles = Array.from({ length: 50 }, () =>
    quotas.recordConnection('BROKER', { maxConnectionCreationRate: 1 }, now),
  );
  assert.ok(brokerThrottles.at(-1)! > 0, "the listener's own rate");

  // Without a protected listener every listener is held.
  const unprotected = new ConnectionQuotas(limits);
  unprotected.opened('10.0.0.1');
  assert.equal(unprotected.slotAvailable(0, {}, 'BROKER'), false);
});
