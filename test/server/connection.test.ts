import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION } from '../../src/server/connection.js';
import { Listener } from '../../src/server/listener.js';

function frame(payload: Buffer): Buffer {
  const prefix = Buffer.alloc(4);
  prefix.writeInt32BE(payload.length);
  return Buffer.concat([prefix, payload]);
}

/** A client that collects response frames. */
async function client(port: number): Promise<{ socket: Socket; frames: Buffer[]; closed: Promise<void> }> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const frames: Buffer[] = [];
  let buf = Buffer.alloc(0);
  socket.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
      frames.push(buf.subarray(4, 4 + buf.readInt32BE(0)));
      buf = buf.subarray(4 + buf.readInt32BE(0));
    }
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, frames, closed };
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await sleep(5);
}

/** A listener whose handler answers "<payload>" after a delay given by the payload's first byte. */
async function echoListener(maxRequestBytes = 1024) {
  const errors: unknown[] = [];
  const listener = new Listener(
    { host: '127.0.0.1', port: 0, maxRequestBytes, idleTimeoutMs: 0, maxConnections: 100 },
    async (f) => {
      const text = f.toString();
      if (text === 'boom') throw new Error('bad request');
      if (text === 'silent') return null;
      await sleep(f[0]! % 10);
      return [Buffer.from('re:'), Buffer.from(text)];
    },
    (e) => errors.push(e),
  );
  const port = await listener.listen();
  return { listener, port, errors };
}

test('responses leave in request order even when handlers finish out of order', async () => {
  const { listener, port } = await echoListener();
  const c = await client(port);
  const payloads = Array.from({ length: 40 }, (_, i) => String.fromCharCode(48 + ((i * 7) % 10)) + i);
  c.socket.write(Buffer.concat(payloads.map((p) => frame(Buffer.from(p)))));
  await until(() => c.frames.length === payloads.length);
  assert.deepEqual(
    c.frames.map((f) => f.toString()),
    payloads.map((p) => `re:${p}`),
  );
  c.socket.destroy();
  await listener.close();
});

test('frames split across reads and joined in one read are both parsed', async () => {
  const { listener, port } = await echoListener();
  const c = await client(port);
  const bytes = Buffer.concat([frame(Buffer.from('0a')), frame(Buffer.from('silent')), frame(Buffer.from('0b'))]);
  for (const byte of bytes) {
    c.socket.write(Buffer.from([byte]));
    await sleep(0);
  }
  await until(() => c.frames.length === 2);
  assert.deepEqual(
    c.frames.map((f) => f.toString()),
    ['re:0a', 're:0b'],
    'a request without a response (acks=0) is skipped in order',
  );
  c.socket.destroy();
  await listener.close();
});

test('an oversize or negative frame size closes that connection only', async () => {
  const { listener, port, errors } = await echoListener(100);
  const good = await client(port);
  for (const size of [101, -5]) {
    const bad = await client(port);
    const header = Buffer.alloc(4);
    header.writeInt32BE(size);
    bad.socket.write(header);
    await bad.closed;
  }
  assert.equal(errors.length, 2);
  good.socket.write(frame(Buffer.from('0ok')));
  await until(() => good.frames.length === 1);
  assert.equal(good.frames[0]!.toString(), 're:0ok');
  good.socket.destroy();
  await listener.close();
});

test('a handler failure closes its connection; other clients keep being served', async () => {
  const { listener, port } = await echoListener();
  const bad = await client(port);
  const good = await client(port);
  bad.socket.write(frame(Buffer.from('boom')));
  await bad.closed;
  good.socket.write(frame(Buffer.from('0still')));
  await until(() => good.frames.length === 1);
  good.socket.destroy();
  await listener.close();
});

test('a connection with too many requests in flight stops being read until they complete', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  let started = 0;
  const listener = new Listener(
    { host: '127.0.0.1', port: 0, maxRequestBytes: 1024, idleTimeoutMs: 0, maxConnections: 10 },
    async () => {
      started++;
      await gate;
      return [Buffer.from('x')];
    },
    () => {},
  );
  const port = await listener.listen();
  const c = await client(port);
  const total = MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION + 10;
  c.socket.write(Buffer.concat(Array.from({ length: total }, () => frame(Buffer.from('r')))));
  await sleep(100);
  assert.equal(started, MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION);
  release();
  await until(() => c.frames.length === total);
  assert.equal(started, total);
  c.socket.destroy();
  await listener.close();
});

test('idle connections are closed after connections.max.idle.ms', async () => {
  const listener = new Listener(
    { host: '127.0.0.1', port: 0, maxRequestBytes: 1024, idleTimeoutMs: 100, maxConnections: 10 },
    async () => [Buffer.from('x')],
    () => {},
  );
  const port = await listener.listen();
  const c = await client(port);
  await c.closed;
  await until(() => listener.connectionCount === 0);
  await listener.close();
});
