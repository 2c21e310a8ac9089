import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Logger } from '../../src/observability/logger.js';

test('text lines carry level, component, message and quoted fields; levels filter', () => {
  const lines: string[] = [];
  const log = new Logger('storage', { level: 'info', sink: { write: (l) => lines.push(l) } });
  log.debug('hidden');
  log.info('segment rolled', { topic: 'orders', partition: 3, offset: 10n, note: 'two words' });
  log.child('network').warn('closed');
  assert.equal(lines.length, 2);
  assert.match(
    lines[0]!,
    /^\[\d{4}-\d\d-\d\dT[^\]]+\] INFO {2}\[storage\] segment rolled topic=orders partition=3 offset=10 note="two words"\n$/,
  );
  assert.match(lines[1]!, /WARN {2}\[network\] closed\n$/);
});

test('json lines are one object each, errors with their stack', () => {
  const lines: string[] = [];
  const log = new Logger('broker', { format: 'json', sink: { write: (l) => lines.push(l) } });
  log.error('request failed', { api: 'Produce', error: new Error('boom') });
  const obj = JSON.parse(lines[0]!) as Record<string, string>;
  assert.equal(obj['level'], 'error');
  assert.equal(obj['component'], 'broker');
  assert.equal(obj['api'], 'Produce');
  assert.match(obj['error']!, /^Error: boom\n/);
});
