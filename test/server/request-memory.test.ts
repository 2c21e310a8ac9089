import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Listener } from '../../src/server/listener.js';

const MAX_REQUEST_BYTES = 4 * 1024 * 1024;
/** What one socket read may hand the connection before it is paused. */
const READ_BYTES = 64 * 1024;

/** A client that counts response frames. */
async function client(port: number): Promise<{ socket: Socket; responses: () => number }> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  let responses = 0;
  let buf = Buffer.alloc(0);
  socket.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
      responses++;
      buf = buf.subarray(4 + buf.readInt32BE(0));
    }
  });
  return { socket, responses: () => responses };
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await sleep(5);
}

/** A request frame of `size` bytes (after its size prefix). */
function frame(size: number): Buffer {
  const b = Buffer.alloc(4 + size, 0x61);
  b.writeInt32BE(size, 0);
  return b;
}

/** A listener with queued.max.request.bytes = `cap` whose handler waits for `gate` (open by default). */
async function listener(cap: number, gate: Promise<void> = Promise.resolve()) {
  let started = 0;
  const l = new Listener(
    {
      host: '127.0.0.1',
      port: 0,
      maxRequestBytes: MAX_REQUEST_BYTES,
      idleTimeoutMs: 0,
      maxConnections: 100,
      queuedMaxRequestBytes: cap,
    },
    async (f) => {
      started++;
      await gate;
      return [Buffer.from(String(f.length))];
    },
    () => {},
  );
  const port = await l.listen();
  return { listener: l, port, started: () => started };
}

test('connections holding partial frames stop being read at the cap, then all finish', async () => {
  const cap = 64 * 1024;
  const frameBytes = 1024 * 1024;
  const { listener: l, port } = await listener(cap);
  const clients = await Promise.all(Array.from({ length: 10 }, () => client(port)));
  const whole = frame(frameBytes);
  const cut = 900 * 1024;
  for (const c of clients) c.socket.write(whole.subarray(0, cut));
  // One frame has its memory reserved and is read; the other nine wait for memory, unread.
  await until(() => l.requestMemory.waitingCount === 9);
  const bound = cap + frameBytes + clients.length * READ_BYTES;
  assert.ok(l.requestMemory.usedBytes <= bound, `${l.requestMemory.usedBytes} bytes held, bound ${bound}`);
  for (const c of clients) c.socket.write(whole.subarray(cut));
  await until(() => clients.every((c) => c.responses() === 1));
  assert.equal(l.requestMemory.usedBytes, 0, 'every byte given back');
  for (const c of clients) c.socket.destroy();
  await l.close();
});

test('a frame larger than the whole cap gets through, and so do many when every connection holds part of one', async () => {
  const { listener: l, port } = await listener(1024);
  const one = await client(port);
  one.socket.write(frame(512 * 1024));
  await until(() => one.responses() === 1);

  // Each read past the cap leaves every connection with part of a frame and nothing reserved: one at a time
  // gets the turn to finish its frame.
  const clients = await Promise.all(Array.from({ length: 8 }, () => client(port)));
  const whole = frame(300 * 1024);
  for (const c of clients) c.socket.write(whole.subarray(0, 100 * 1024));
  await sleep(0);
  for (const c of clients) c.socket.write(whole.subarray(100 * 1024));
  await until(() => clients.every((c) => c.responses() === 1));
  assert.equal(l.requestMemory.usedBytes, 0);
  for (const c of [one, ...clients]) c.socket.destroy();
  await l.close();
});

test('at the cap a connection is paused, not dropped, and resumes once handlers free memory', async () => {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const { listener: l, port, started } = await listener(64 * 1024, gate);
  const big = await client(port);
  big.socket.write(frame(128 * 1024));
  await until(() => started() === 1);
  // The pool is full with a request in progress: the next request is not read until it ends.
  const small = await client(port);
  small.socket.write(frame(10));
  await until(() => l.requestMemory.waitingCount === 1);
  assert.equal(started(), 1);
  open();
  await until(() => big.responses() === 1 && small.responses() === 1);
  assert.equal(started(), 2);
  big.socket.destroy();
  small.socket.destroy();
  await l.close();
});
