import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import type { BrokerServices } from '../../src/broker/api-handler.js';
import { PeerRateLimitedLog, RequestDispatcher } from '../../src/broker/request-dispatcher.js';
import { type Broker, startBroker } from '../../src/index.js';
import { Logger } from '../../src/observability/logger.js';
import { apis } from '../../src/protocol/generated/index.js';
import { Listener } from '../../src/server/listener.js';
import { RawClient } from './raw-client.js';

let broker: Broker;
let lines: string[] = [];

before(async () => {
  const logger = new Logger('broker', { level: 'debug', sink: { write: (line) => lines.push(line) } });
  broker = await startBroker({ logger });
});
after(async () => {
  await broker.stop();
});

/** Connects from `localAddress` (any 127.x address is this machine), sends `bytes`, and awaits the broker's close. */
async function sendAndAwaitClose(port: number, localAddress: string, bytes: Buffer): Promise<void> {
  const socket: Socket = connect({ port, host: '127.0.0.1', localAddress });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(bytes);
  await closed;
}

const level = (line: string) => /^\[[^\]]+\] (\w+)/.exec(line)?.[1];
/** A stack frame in a log line, where the text format writes the newline as `\n`. */
const STACK_FRAME = /\\n\s+at /;

test('bad framing from one peer: one WARN line, the rest at DEBUG, no ERROR and no stack trace', async () => {
  lines = [];
  const oversize = Buffer.from([0x7f, 0xff, 0xff, 0xff]);
  const garbage = Buffer.from([0, 0, 0, 2, 0xff, 0xff]);
  for (let i = 0; i < 10; i++) await sendAndAwaitClose(broker.port, '127.0.0.2', i % 2 ? oversize : garbage);
  const fromPeer = lines.filter((l) => l.includes('client=127.0.0.2:'));
  assert.deepEqual(
    fromPeer.map(level),
    ['WARN', ...Array(9).fill('DEBUG')],
    'at most one WARN per peer per minute, the rest at DEBUG',
  );
  assert.match(fromPeer[0]!, /closing connection: request not understood/);
  assert.ok(!lines.some((l) => level(l) === 'ERROR' || STACK_FRAME.test(l)), lines.join(''));

  // Another peer is not silenced by the first one's limit.
  await sendAndAwaitClose(broker.port, '127.0.0.3', oversize);
  assert.equal(level(lines.find((l) => l.includes('client=127.0.0.3:'))!), 'WARN');
});

test('an HTTP request on the Kafka port gets one WARN naming the peer, and the broker keeps serving', async () => {
  lines = [];
  await sendAndAwaitClose(broker.port, '127.0.0.4', Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'));
  await sendAndAwaitClose(broker.port, '127.0.0.4', Buffer.from('GET /metrics HTTP/1.1\r\n\r\n'));
  const fromPeer = lines.filter((l) => l.includes('client=127.0.0.4:'));
  assert.deepEqual(fromPeer.map(level), ['WARN', 'DEBUG']);
  assert.match(fromPeer[0]!, /looks like HTTP; this port speaks Kafka's protocol/);
  assert.ok(!lines.some((l) => level(l) === 'ERROR' || STACK_FRAME.test(l)));

  const c = await RawClient.connect(broker.port);
  const versions = await c.request(apis.ApiVersions, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' });
  assert.equal(versions.errorCode, 0);
  c.close();
});

test("an exception in a handler is the broker's fault: ERROR with its stack trace", async () => {
  const captured: string[] = [];
  const logger = new Logger('requests', { level: 'debug', sink: { write: (line) => captured.push(line) } });
  const failing = {
    api: apis.ApiVersions,
    minVersion: 0,
    maxVersion: 3,
    handle: () => {
      throw new Error('handler bug');
    },
  };
  const dispatcher = new RequestDispatcher([failing], {} as BrokerServices, logger);
  const listener = new Listener(
    { host: '127.0.0.1', port: 0, maxRequestBytes: 1 << 20, idleTimeoutMs: 0, maxConnections: 10 },
    dispatcher.handleFrame,
    dispatcher.onConnectionError,
  );
  const port = await listener.listen();
  const c = await RawClient.connect(port);
  await assert.rejects(c.request(apis.ApiVersions, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' }));
  await listener.close();
  assert.equal(captured.length, 1);
  assert.equal(level(captured[0]!), 'ERROR');
  assert.match(captured[0]!, /handler bug/);
  assert.match(captured[0]!, STACK_FRAME);
});

test('the per-peer limit lets one WARN through per interval and counts the lines it held back', () => {
  const captured: string[] = [];
  const logger = new Logger('requests', { level: 'debug', sink: { write: (line) => captured.push(line) } });
  let now = 0;
  const log = new PeerRateLimitedLog(logger, 60_000, () => now);
  for (let i = 0; i < 5; i++) log.warn('10.0.0.1', 'bad', {});
  now = 59_999;
  log.warn('10.0.0.1', 'bad', {});
  now = 60_000;
  log.warn('10.0.0.1', 'bad', {});
  assert.deepEqual(captured.map(level), ['WARN', 'DEBUG', 'DEBUG', 'DEBUG', 'DEBUG', 'DEBUG', 'WARN']);
  assert.match(captured[6]!, /suppressed=5/);
});
