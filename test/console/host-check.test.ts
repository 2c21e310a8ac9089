import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { startBroker } from '../../src/broker/broker.js';
import { hostAllowed } from '../../src/console/host-check.js';

test('hostAllowed: IP addresses with or without a port, and the allowed names, nothing else', () => {
  const allowed = new Set(['localhost', 'broker-1.internal']);
  for (const host of [
    '127.0.0.1:9404',
    '10.1.2.3',
    '[::1]:9404',
    '[::1]',
    'localhost:9404',
    'LOCALHOST',
    'broker-1.internal.',
  ])
    assert.equal(hostAllowed(host, allowed), true, host);
  for (const host of [
    undefined,
    '',
    'evil.example:9404',
    'localhost.evil.example',
    '127.0.0.1.evil.example',
    'broker-1',
  ])
    assert.equal(hostAllowed(host, allowed), false, String(host));
});

/** A GET naming `host` in its Host header (fetch does not let a caller set it). */
function getWithHost(port: number, path: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end();
  });
}

test('the console refuses a host name another site could point here (DNS rebinding); metrics are not affected', async () => {
  const broker = await startBroker({
    httpListener: { host: '127.0.0.1', port: 0 },
    consoleAllowedHosts: ['Console.Example'],
  });
  try {
    const port = broker.httpPort;
    assert.equal(await getWithHost(port, '/api/cluster', `evil.example:${port}`), 403);
    assert.equal(await getWithHost(port, '/', `evil.example:${port}`), 403);
    assert.equal(await getWithHost(port, '/api/cluster', `127.0.0.1:${port}`), 200);
    assert.equal(await getWithHost(port, '/api/cluster', `localhost:${port}`), 200);
    assert.equal(await getWithHost(port, '/api/cluster', `console.example:${port}`), 200);
    assert.equal(await getWithHost(port, '/health/live', `evil.example:${port}`), 200);
  } finally {
    await broker.stop();
  }
});
