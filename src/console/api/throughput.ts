import type { ApiRoute } from '../api-route.js';
import { ok } from '../api-route.js';

/**
 * The broker's BrokerTopicMetrics totals (messages in, bytes in, bytes out, over all topics) and the time they
 * were read: the page polls them and draws the rates from the differences.
 */
export const throughputRoute: ApiRoute = {
  method: 'GET',
  path: /^\/api\/throughput$/,
  changes: false,
  handle(backend) {
    return ok({ timeMs: Date.now(), ...backend.throughput() });
  },
};
