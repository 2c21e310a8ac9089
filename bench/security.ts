/**
 * `npx tsx bench/security.ts [--quick]`: what TLS and SASL cost. One broker serves a PLAINTEXT, an SSL and a
 * SASL_SSL (PLAIN) listener; the load generator (librdkafka) produces 1 KiB records (acks=1) and consumes them
 * back over each, in turns, and every secured figure is given as a ratio of the PLAINTEXT one of the same round.
 * The certificates are the integration tests' (test/integration/tls-certificates.ts), made with openssl for the run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBrokerConfig, resolveListeners } from '../src/config/broker-config.js';
import { Logger, startBroker } from '../src/index.js';
import { makeCertificates } from '../test/integration/tls-certificates.js';
import { buildLoadgen, loadgen } from './broker.js';
import { type BenchRow, formatTable } from './lib.js';

const quick = process.argv.includes('--quick');
const RECORDS = quick ? 50_000 : 300_000;
const ROUNDS = quick ? 1 : 2;
const RECORD_BYTES = 1024;
const MB = 1024 * 1024;
const USER = 'bench';
const PASSWORD = 'bench-secret';

async function main(): Promise<void> {
  await buildLoadgen();
  const dir = mkdtempSync(join(tmpdir(), 'samsa-bench-security-'));
  // The integration tests' certificates: a CA, and a server key store for localhost and 127.0.0.1.
  const certs = await makeCertificates();
  const ca = certs.caCert;
  const keystore = certs.serverKeystorePem;
  const properties: Record<string, string> = {
    listeners: 'PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,SASL_SSL://127.0.0.1:0',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL',
    'ssl.keystore.type': 'PEM',
    'ssl.keystore.location': keystore,
    'sasl.enabled.mechanisms': 'PLAIN',
    'listener.name.sasl_ssl.plain.sasl.jaas.config': `org.apache.kafka.common.security.plain.PlainLoginModule required user_${USER}="${PASSWORD}";`,
    'log.dirs': join(dir, 'logs'),
  };
  const listeners = resolveListeners(parseBrokerConfig(new Map(Object.entries(properties))).values);
  const broker = await startBroker({
    listeners,
    host: '127.0.0.1',
    staticConfigs: properties,
    logDirs: [join(dir, 'logs')],
    logger: new Logger('broker', { level: 'warn' }),
  });
  const port = (name: string) => broker.settings.listeners!.find((l) => l.name === name)!.port;
  const tls = `ssl.ca.location=${ca}`;
  const cases = [
    { name: 'PLAINTEXT', port: port('PLAINTEXT'), config: '' },
    { name: 'SSL', port: port('SSL'), config: `security.protocol=ssl,${tls}` },
    {
      name: 'SASL_SSL (PLAIN)',
      port: port('SASL_SSL'),
      config: `security.protocol=sasl_ssl,${tls},sasl.mechanisms=PLAIN,sasl.username=${USER},sasl.password=${PASSWORD}`,
    },
  ];
  const rows: BenchRow[] = [];
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const figures = new Map<string, { produce: number; consume: number }>();
      for (const c of cases) {
        process.env.LOADGEN_CONFIG = c.config;
        const bootstrap = `127.0.0.1:${c.port}`;
        const topic = `security-${round}-${c.name.replace(/\W+/g, '-')}`;
        const p = await loadgen(['produce', bootstrap, topic, String(RECORDS), String(RECORD_BYTES), '1', 'none', '1']);
        const r = await loadgen(['consume', bootstrap, topic, String(RECORDS)]);
        figures.set(c.name, { produce: p.bytes / MB / p.seconds, consume: r.bytes / MB / r.seconds });
      }
      const plain = figures.get('PLAINTEXT')!;
      for (const [name, f] of figures) {
        const secured = name !== 'PLAINTEXT';
        rows.push({
          workload: `round ${round}: produce 1 KiB, acks=1, over ${name}`,
          figure: f.produce,
          unit: 'MB/s',
          ...(secured ? { limit: plain.produce, limitName: 'PLAINTEXT' } : {}),
        });
        rows.push({
          workload: `round ${round}: consume 1 KiB over ${name}`,
          figure: f.consume,
          unit: 'MB/s',
          ...(secured ? { limit: plain.consume, limitName: 'PLAINTEXT' } : {}),
        });
      }
    }
  } finally {
    delete process.env.LOADGEN_CONFIG;
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(certs.dir, { recursive: true, force: true });
  }
  console.log(formatTable(rows));
}

await main();
