/**
 * A TLS listener's certificate renewed at run time, as with Kafka's dynamic listener configs: AlterConfigs on the
 * broker sets `listener.name.ssl.ssl.keystore.location`; new TLS sessions get the new certificate, a client keeps
 * working, an impostor certificate (another subject) or a missing file is refused with INVALID_REQUEST and changes
 * nothing, a file renewed in place is read again when its location is set again, and a restart keeps the renewal.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFile, readFile, rm } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { connect } from 'node:tls';
import { Admin } from '@platformatic/kafka';
import kafkajs from 'kafkajs';
import { parseBrokerConfig, resolveListeners } from '../../src/config/broker-config.js';
import { type Broker, startBroker } from '../../src/index.js';
import { withTempDir } from '../storage/helpers.js';
import { makeCertificates, signServerKeystore, type TestCertificates } from './tls-certificates.js';

const { Kafka, logLevel } = kafkajs;
/** ConfigResource type BROKER. */
const BROKER_RESOURCE = 4;
const KEY = 'listener.name.ssl.ssl.keystore.location';

let certs: TestCertificates;

before(async () => {
  certs = await makeCertificates();
});

after(async () => {
  if (certs) await rm(certs.dir, { recursive: true, force: true });
});

async function start(logDir: string): Promise<Broker> {
  const properties: Record<string, string> = {
    listeners: 'PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,SSL:SSL',
    'ssl.keystore.type': 'PEM',
    'ssl.keystore.location': certs.serverKeystorePem,
  };
  const listeners = resolveListeners(parseBrokerConfig(new Map(Object.entries(properties))).values);
  return startBroker({ listeners, host: '127.0.0.1', staticConfigs: properties, logDirs: [logDir] });
}

function port(broker: Broker, name: string): number {
  return broker.settings.listeners!.find((l) => l.name === name)!.port;
}

/** The serial number of the certificate a new TLS session on the SSL listener is served with. */
async function servedSerial(broker: Broker): Promise<string> {
  const ca = await readFile(certs.caCert);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: port(broker, 'SSL'), ca, servername: 'localhost' }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.end();
      resolve(serial);
    });
    socket.on('error', reject);
  });
}

async function serialOf(keystore: string): Promise<string> {
  return new X509Certificate(await readFile(keystore)).serialNumber;
}

/** AlterConfigs on this broker through @platformatic/kafka's admin; a refusal rejects with the broker's message. */
async function setKeystore(broker: Broker, location: string): Promise<void> {
  const admin = new Admin({ clientId: 'reload', bootstrapBrokers: [`127.0.0.1:${port(broker, 'PLAINTEXT')}`] });
  try {
    await admin.alterConfigs({
      resources: [
        {
          resourceType: BROKER_RESOURCE,
          resourceName: String(broker.settings.nodeId),
          configs: [{ name: KEY, value: location }],
        },
      ],
    });
  } catch (e) {
    const inner = (e as AggregateError).errors?.[0] as { response?: { responses?: Array<{ errorMessage: string }> } };
    throw new Error(inner?.response?.responses?.[0]?.errorMessage ?? String(e));
  } finally {
    await admin.close();
  }
}

test('a renewed certificate serves new sessions; impostors and missing files are refused; a restart keeps it', async () => {
  await withTempDir(async (dir) => {
    const renewed = await signServerKeystore(certs, 'renewed');
    const impostor = await signServerKeystore(certs, 'impostor', '/CN=elsewhere', 'DNS:elsewhere');
    let broker = await start(dir);
    try {
      assert.equal(await servedSerial(broker), await serialOf(certs.serverCert));

      await setKeystore(broker, renewed);
      assert.equal(await servedSerial(broker), await serialOf(renewed));
      // A client over TLS works with the renewed certificate.
      const ca = [await readFile(certs.caCert, 'utf8')];
      const kafka = new Kafka({
        clientId: 'tls',
        brokers: [`localhost:${port(broker, 'SSL')}`],
        ssl: { ca },
        logLevel: logLevel.NOTHING,
      });
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic: 'after-renewal', messages: [{ value: 'ok' }] });
      await producer.disconnect();

      await assert.rejects(setKeystore(broker, impostor), /Keystore DistinguishedName or SubjectAltNames do not match/);
      await assert.rejects(setKeystore(broker, `${dir}/missing.pem`), /cannot read/);
      assert.equal(await servedSerial(broker), await serialOf(renewed), 'refused changes change nothing');

      // Renewed in place: the same location set again reads the file again.
      const served = await serialOf(renewed);
      const again = await signServerKeystore(certs, 'renewed-again');
      await copyFile(again, renewed);
      assert.equal(await servedSerial(broker), served, 'a file changed in place is not read until set again');
      await setKeystore(broker, renewed);
      assert.equal(await servedSerial(broker), await serialOf(again));

      await broker.stop();
      broker = await start(dir);
      assert.equal(await servedSerial(broker), await serialOf(again), 'the dynamic key store is used from the start');
    } finally {
      await broker.stop();
    }
  });
});
