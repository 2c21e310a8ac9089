import { fork } from 'node:child_process';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CHUNK = 1024 * 1024;

/** Loopback TCP bandwidth between two processes, MB/s: a child writes 1 MiB chunks, this process counts them. */
export async function loopbackMBps(seconds: number): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const result = new Promise<number>((resolve) => {
    server.once('connection', (socket) => {
      let bytes = 0;
      let start = 0;
      socket.on('data', (d: Buffer) => {
        if (start === 0) start = performance.now();
        bytes += d.length;
      });
      socket.on('close', () => resolve(bytes / 1e6 / ((performance.now() - start) / 1000)));
    });
  });
  const child = fork(join(import.meta.dirname, 'loopback-writer.ts'), [String(port), String(seconds)], {
    execArgv: ['--import', 'tsx'],
  });
  const mbps = await result;
  child.kill();
  server.close();
  return mbps;
}

/**
 * Sequential write bandwidth of the temporary directory's disk, MB/s, in 1 MiB writes, with an fdatasync
 * after each write or none at all: the ceilings of acks=all (durable policy) and acks=1 appends.
 */
export async function diskWriteMBps(totalBytes: number, sync: boolean): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'samsa-bench-disk-'));
  const file = await open(join(dir, 'data'), 'w');
  const chunk = Buffer.alloc(CHUNK, 0x61);
  try {
    const start = performance.now();
    for (let written = 0; written < totalBytes; written += CHUNK) {
      await file.write(chunk, 0, CHUNK, written);
      if (sync) await file.datasync();
    }
    if (!sync) await file.datasync();
    return totalBytes / 1e6 / ((performance.now() - start) / 1000);
  } finally {
    await file.close();
    await rm(dir, { recursive: true, force: true });
  }
}
