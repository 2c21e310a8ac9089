/**
 * What a secured connection costs a command-line tool: the wall time of `samsa topics --list` against one broker
 * over PLAINTEXT, SSL, mutual TLS, SASL_PLAINTEXT (PLAIN, SCRAM-SHA-256) and SASL_SSL, with the tool's process
 * start (`samsa version`) as the baseline measured in the same run. The tools run from source through tsx, as
 * the tests run them. `npx tsx bench/tool-security.ts [--runs N]` (default 5, the median is printed).
 */
import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseBrokerConfig, resolveListeners } from '../src/config/broker-config.js';
import { startBroker } from '../src/index.js';
import { alterUserScramCredentialsApi } from '../src/protocol/generated/apis/alter-user-scram-credentials.js';
import { SCRAM_MECHANISMS, scramSaltedPassword } from '../src/security/scram.js';
import { RawClient } from '../test/integration/raw-client.js';
import { makeCertificates } from '../test/integration/tls-certificates.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 5;

const certs = await makeCertificates();
const jaas = (module: string, extra = '') => `org.apache.kafka.common.security.${module} required${extra};`;
const properties: Record<string, string> = {
  listeners:
    'PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,MTLS://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0',
  'listener.security.protocol.map':
    'PLAINTEXT:PLAINTEXT,SSL:SSL,MTLS:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL',
  'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256',
  'listener.name.sasl_plaintext.plain.sasl.jaas.config': jaas('plain.PlainLoginModule', ' user_admin="secret"'),
  'listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config': jaas('scram.ScramLoginModule'),
  'listener.name.sasl_ssl.sasl.enabled.mechanisms': 'PLAIN',
  'listener.name.sasl_ssl.plain.sasl.jaas.config': jaas('plain.PlainLoginModule', ' user_admin="secret"'),
  'ssl.keystore.type': 'PEM',
  'ssl.keystore.location': certs.serverKeystorePem,
  'ssl.truststore.type': 'PEM',
  'ssl.truststore.location': certs.caCert,
  'listener.name.mtls.ssl.client.auth': 'required',
};
const broker = await startBroker({
  listeners: resolveListeners(parseBrokerConfig(new Map(Object.entries(properties))).values),
  host: '127.0.0.1',
  staticConfigs: properties,
});
const port = (name: string) => broker.settings.listeners!.find((l) => l.name === name)!.port;

try {
  const admin = await RawClient.connect(port('PLAINTEXT'));
  const salt = Buffer.from('bench-salt');
  await admin.request(alterUserScramCredentialsApi, 0, {
    deletions: [],
    upsertions: [
      {
        name: 'admin',
        mechanism: SCRAM_MECHANISMS['SCRAM-SHA-256'].type,
        iterations: 4096,
        salt,
        saltedPassword: scramSaltedPassword('SCRAM-SHA-256', 'secret', salt, 4096),
      },
    ],
  });
  admin.close();
  const keystore = join(certs.dir, 'client-keystore.pem');
  await writeFile(keystore, (await readFile(certs.clientKey, 'utf8')) + (await readFile(certs.clientCert, 'utf8')));
  const trust = ['ssl.truststore.type=PEM', `ssl.truststore.location=${certs.caCert}`];
  const user = (module: string) => `sasl.jaas.config=${jaas(module, ' username="admin" password="secret"')}`;
  const cases: Array<[string, string, string[] | null]> = [
    ['PLAINTEXT', 'PLAINTEXT', null],
    ['SSL', 'SSL', ['security.protocol=SSL', ...trust]],
    [
      'SSL, mutual TLS',
      'MTLS',
      ['security.protocol=SSL', ...trust, 'ssl.keystore.type=PEM', `ssl.keystore.location=${keystore}`],
    ],
    [
      'SASL_PLAINTEXT PLAIN',
      'SASL_PLAINTEXT',
      ['security.protocol=SASL_PLAINTEXT', 'sasl.mechanism=PLAIN', user('plain.PlainLoginModule')],
    ],
    [
      'SASL_PLAINTEXT SCRAM-SHA-256',
      'SASL_PLAINTEXT',
      ['security.protocol=SASL_PLAINTEXT', 'sasl.mechanism=SCRAM-SHA-256', user('scram.ScramLoginModule')],
    ],
    [
      'SASL_SSL PLAIN',
      'SASL_SSL',
      ['security.protocol=SASL_SSL', 'sasl.mechanism=PLAIN', user('plain.PlainLoginModule'), ...trust],
    ],
  ];
  // The broker runs in this process: the tool runs as a child, awaited, so that the broker keeps serving.
  const run = promisify(execFile);
  const median = async (args: string[]) => {
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const start = process.hrtime.bigint();
      await run(process.execPath, ['--import', 'tsx', MAIN, ...args]);
      times.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
  };
  // One unmeasured run first: tsx compiles the tools' modules into its cache.
  await run(process.execPath, [
    '--import',
    'tsx',
    MAIN,
    'topics',
    '--bootstrap-server',
    `127.0.0.1:${port('PLAINTEXT')}`,
    '--list',
  ]);
  const baseline = await median(['version']);
  console.log(`runs per case: ${RUNS}; median wall time of one tool run, ms; load average ${loadavg()[0]!.toFixed(1)}`);
  console.log(`${'samsa version (process start, baseline)'.padEnd(48)} ${baseline.toFixed(0).padStart(6)}`);
  for (const [label, listener, config] of cases) {
    const args = ['topics', '--bootstrap-server', `127.0.0.1:${port(listener)}`, '--list'];
    if (config) {
      const file = join(certs.dir, `${listener}-${label.length}.properties`);
      await writeFile(file, `${config.join('\n')}\n`);
      args.push('--command-config', file);
    }
    const ms = await median(args);
    console.log(
      `${`topics --list over ${label}`.padEnd(48)} ${ms.toFixed(0).padStart(6)}  (+${(ms - baseline).toFixed(0)} over the baseline)`,
    );
  }
} finally {
  await broker.stop();
  await rm(certs.dir, { recursive: true, force: true });
}
