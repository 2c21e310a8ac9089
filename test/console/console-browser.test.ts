import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { type Browser, chromium, type Page } from 'playwright-core';
import { buildWeb } from '../../scripts/build-web.mjs';
import { type Broker, startBroker } from '../../src/broker/broker.js';

const { Kafka, logLevel } = kafkajs;

/** Debian's chromium package (.ci/run installs it). */
const CHROMIUM = '/usr/bin/chromium';
/** Screenshots of each step, kept as test artefacts (git-ignored). */
const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts', 'console');

const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing: apt-get install -y chromium`;

async function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** The committed offset of a group's partition, through the console's API (the commit follows the fetch). */
async function committed(broker: Broker, groupId: string): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${broker.httpPort}/api/groups/${groupId}`);
  const body = (await response.json()) as { offsets?: Array<{ committedOffset: number }> };
  return body.offsets?.[0]?.committedOffset ?? -1;
}

test('web console in Chromium: create a topic, see a produced message, a group lag, reset it to earliest', {
  skip,
}, async () => {
  await buildWeb();
  await mkdir(ARTIFACTS, { recursive: true });
  const broker = await startBroker({
    httpListener: { host: '127.0.0.1', port: 0 },
    groups: { offsetsTopicNumPartitions: 1 },
  });
  const kafka = new Kafka({ clientId: 'console-e2e', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  const consumer = kafka.consumer({ groupId: 'web-group', maxWaitTimeInMs: 100 });
  const browser = await launch();
  try {
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`http://127.0.0.1:${broker.httpPort}/`);
    await page.getByRole('heading', { name: 'Cluster' }).waitFor();
    await page
      .getByRole('table', { name: 'Brokers' })
      .getByRole('cell', { name: String(broker.port) })
      .waitFor();
    await page.getByRole('img', { name: /Messages in per second/ }).waitFor();
    await shot(page, '1-cluster');

    // Create a topic in the page.
    await page.getByRole('link', { name: 'Topics' }).click();
    await page.getByLabel('Topic name').fill('web-orders');
    await page.getByLabel('Partitions').fill('1');
    await page.getByRole('button', { name: 'Create topic' }).click();
    await page.getByRole('status').filter({ hasText: 'Topic web-orders created' }).waitFor();
    await page.getByRole('link', { name: 'web-orders' }).waitFor();
    await shot(page, '2-topic-created');

    // Produce through a real client, and see the message with its key and value.
    await producer.connect();
    await producer.send({ topic: 'web-orders', messages: [{ key: 'order-1', value: '{"total":42}' }] });
    await page.getByRole('link', { name: 'web-orders' }).click();
    await page.getByRole('heading', { name: 'Topic web-orders' }).waitFor();
    await page.getByLabel('Config name').selectOption('retention.ms');
    await page.getByLabel('Value').fill('86400000');
    await page.getByRole('button', { name: 'Set' }).click();
    await page.getByRole('status').filter({ hasText: 'retention.ms set to 86400000' }).waitFor();
    await page
      .getByRole('table', { name: 'Configs' })
      .getByRole('row', { name: /retention\.ms 86400000 DYNAMIC_TOPIC_CONFIG/ })
      .waitFor();
    await shot(page, '3-topic');
    await page.getByRole('link', { name: 'Browse messages' }).click();
    await page.getByLabel('Partition').selectOption('0');
    await page.getByLabel('From offset').fill('0');
    await page.getByLabel('Format').selectOption('json');
    await page.getByRole('button', { name: 'Show messages' }).click();
    const messages = page.getByRole('table', { name: 'Messages' });
    await messages.getByRole('cell', { name: 'order-1' }).waitFor();
    assert.equal(await messages.locator('tbody tr').count(), 1);
    assert.equal(await messages.locator('tbody tr td pre').nth(1).textContent(), '{\n  "total": 42\n}');
    await shot(page, '4-messages');
    // From a time, in the browser's local time as a datetime-local field holds it: a minute after the record
    // finds nothing yet, a minute before finds it.
    const localTime = (ms: number) => {
      const at = new Date(ms);
      return new Date(ms - at.getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
    };
    await page.getByLabel('From offset').fill('');
    await page.getByLabel('Or from time').fill(localTime(Date.now() + 60_000));
    await page.getByRole('button', { name: 'Show messages' }).click();
    await page.getByText('showing 0 from 1.').waitFor();
    await page.getByLabel('Or from time').fill(localTime(Date.now() - 60_000));
    await page.getByRole('button', { name: 'Show messages' }).click();
    await page.getByText('showing 1 from 0.').waitFor();
    await messages.getByRole('cell', { name: 'order-1' }).waitFor();

    // A group consumes and commits, leaves, and two more records arrive: lag 2.
    await consumer.connect();
    await consumer.subscribe({ topic: 'web-orders', fromBeginning: true });
    await consumer.run({ eachMessage: async () => {} });
    while ((await committed(broker, 'web-group')) !== 1) await new Promise((resolve) => setTimeout(resolve, 50));
    await consumer.disconnect();
    await producer.send({ topic: 'web-orders', messages: [{ value: 'two' }, { value: 'three' }] });
    await page.getByRole('link', { name: 'Consumer groups' }).click();
    await page.getByRole('link', { name: 'web-group' }).click();
    await page.getByRole('heading', { name: 'Group web-group' }).waitFor();
    await page.getByLabel('Group state').filter({ hasText: 'Empty' }).waitFor();
    await page.getByLabel('Total lag').filter({ hasText: /^2$/ }).waitFor();
    await shot(page, '5-group-lag');

    // Reset to earliest in the page: the lag moves to 3.
    await page.getByLabel('Reset to').selectOption('earliest');
    await page.getByRole('button', { name: 'Reset offsets' }).click();
    await page.getByRole('status').filter({ hasText: 'Offsets of web-group reset to earliest' }).waitFor();
    await page.getByLabel('Total lag').filter({ hasText: /^3$/ }).waitFor();
    await page
      .getByRole('table', { name: 'Committed offsets' })
      .getByRole('row', { name: /web-orders 0 0 3 3/ })
      .waitFor();
    await shot(page, '6-group-reset');

    // The cluster page polls the broker's counters: records produced while it shows move the rate off zero.
    await page.getByRole('link', { name: 'Cluster' }).click();
    await page.getByRole('img', { name: /Messages in per second/ }).waitFor();
    await producer.send({ topic: 'web-orders', messages: [{ value: 'r1' }, { value: 'r2' }, { value: 'r3' }] });
    await page.getByRole('img', { name: /^Messages in per second: (?!0\.0\/s)/ }).waitFor();
    await page.getByRole('img', { name: /^Bytes in per second: (?!0 B\/s)/ }).waitFor();
    await shot(page, '7-rates');

    // Delete the topic from its page.
    await page.goto(`http://127.0.0.1:${broker.httpPort}/#/topics/web-orders`);
    page.once('dialog', (dialog) => dialog.accept());
    await page.getByRole('button', { name: 'Delete topic' }).click();
    await page.getByRole('status').filter({ hasText: 'Topic web-orders deleted' }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'web-orders' }).count(), 0);
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    await consumer.disconnect().catch(() => {});
    await producer.disconnect().catch(() => {});
    await broker.stop();
  }
});

test('web console in Chromium, read-only: no forms to change anything, and a create from the page is refused', {
  skip,
}, async () => {
  await buildWeb();
  await mkdir(ARTIFACTS, { recursive: true });
  const broker = await startBroker({ httpListener: { host: '127.0.0.1', port: 0 }, consoleReadOnly: true });
  const browser = await launch();
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${broker.httpPort}/#/topics`);
    await page.getByRole('heading', { name: 'Topics' }).waitFor();
    await page.getByText('Read-only', { exact: true }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Create topic' }).count(), 0);
    const status = await page.evaluate(async () => {
      const response = await fetch('/api/topics', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-samsa-console': '1' },
        body: JSON.stringify({ name: 'refused' }),
      });
      return { status: response.status, body: await response.json() };
    });
    assert.deepEqual(status, {
      status: 403,
      body: { error: 'READ_ONLY', message: 'the console is read-only (samsa.console.read.only=true)' },
    });
    await shot(page, '8-read-only');
  } finally {
    await browser.close();
    await broker.stop();
  }
});

test('web console page: served with its content types, cached by hash, gzipped when asked, nothing else', async () => {
  const { js, css } = await buildWeb();
  const broker = await startBroker({ httpListener: { host: '127.0.0.1', port: 0 } });
  const base = `http://127.0.0.1:${broker.httpPort}`;
  try {
    const index = await fetch(`${base}/`);
    assert.equal(index.status, 200);
    assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    assert.match(index.headers.get('content-security-policy')!, /script-src 'self'/);
    const html = await index.text();
    assert.ok(html.includes(`/assets/${js}`) && html.includes(`/assets/${css}`));
    const script = await fetch(`${base}/assets/${js}`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(script.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(script.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(script.headers.get('content-encoding'), 'gzip');
    assert.ok((await script.text()).length > 0);
    // fetch asks for gzip unless told otherwise.
    const style = await fetch(`${base}/assets/${css}`, { headers: { 'accept-encoding': 'identity' } });
    assert.equal(style.headers.get('content-type'), 'text/css; charset=utf-8');
    assert.equal(style.headers.get('content-encoding'), null);
    assert.equal((await fetch(`${base}/assets/../package.json`)).status, 404);
    assert.equal((await fetch(`${base}/assets/nothing.js`)).status, 404);
    assert.equal((await fetch(`${base}/`, { method: 'POST' })).status, 405);
    // The metrics and health checks stay where they were.
    assert.equal((await fetch(`${base}/health/live`)).status, 200);
    assert.equal((await fetch(`${base}/metrics`, { method: 'POST' })).status, 405);
  } finally {
    await broker.stop();
  }
});
