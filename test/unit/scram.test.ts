import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { test } from 'node:test';
import { SaslAuthenticationError } from '../../src/security/sasl-server.js';
import {
  ScramClient,
  type ScramCredential,
  type ScramMechanismName,
  ScramServer,
  scramCredentialOf,
  scramSaltedPassword,
} from '../../src/security/scram.js';

/** RFC 7677 section 3: user "user", password "pencil", SCRAM-SHA-256. */
const RFC7677 = {
  salt: Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'),
  iterations: 4096,
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal:
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

function rfcCredential(): ScramCredential {
  const salted = scramSaltedPassword('SCRAM-SHA-256', 'pencil', RFC7677.salt, RFC7677.iterations);
  return scramCredentialOf('SCRAM-SHA-256', salted, RFC7677.salt, RFC7677.iterations);
}

function rfcServer(credential: ScramCredential | undefined = rfcCredential()): ScramServer {
  return new ScramServer(
    'SCRAM-SHA-256',
    (user, mechanism) => (user === 'user' && mechanism === 'SCRAM-SHA-256' ? credential : undefined),
    () => RFC7677.serverNonce,
  );
}

const text = (s: string) => Buffer.from(s, 'utf8');
const failed = (e: Error) =>
  e instanceof SaslAuthenticationError &&
  e.message ===
    'Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256';

test("SCRAM-SHA-256 against RFC 7677's test vector: the server-first and server-final messages are the RFC's", () => {
  const server = rfcServer();
  assert.equal(server.evaluate(text(RFC7677.clientFirst)).toString(), RFC7677.serverFirst);
  assert.equal(server.complete, false);
  assert.equal(server.evaluate(text(RFC7677.clientFinal)).toString(), RFC7677.serverFinal);
  assert.equal(server.complete, true);
  assert.equal(server.authorizationId, 'user');
});

test('SCRAM refuses a wrong proof, a wrong nonce, a wrong channel binding, an unknown user and tokenauth', () => {
  const badProof = RFC7677.clientFinal.replace('p=dHzb', 'p=dHzc');
  const badNonce = RFC7677.clientFinal.replace('k0,p=', 'k1,p=');
  const badBinding = RFC7677.clientFinal.replace('c=biws', 'c=eSws');
  for (const final of [badProof, badNonce, badBinding, 'garbage']) {
    const server = rfcServer();
    server.evaluate(text(RFC7677.clientFirst));
    assert.throws(() => server.evaluate(text(final)), failed, final);
    assert.equal(server.complete, false);
  }
  assert.throws(() => rfcServer().evaluate(text('n,,n=nobody,r=abc')), failed);
  assert.throws(() => rfcServer().evaluate(text('p=tls-unique,,n=user,r=abc')), failed);
  assert.throws(
    () => rfcServer().evaluate(text('n,,n=user,r=abc,tokenauth=true')),
    (e: Error) => e.message === 'Authentication failed: delegation tokens are not supported',
  );
  assert.throws(
    () => rfcServer().evaluate(text('n,a=other,n=user,r=abc')),
    (e: Error) => /authorization id that is different from username/.test(e.message),
  );
});

/**
 * A client side of RFC 5802 written with node:crypto alone, to run the SHA-512 exchange end to end. It is kept
 * apart from ScramClient on purpose: RFC 7677's vectors cover SHA-256 only, and ScramClient shares its helpers
 * with ScramServer, so a mistake in them would pass a test of the two against each other.
 */
function clientExchange(mechanism: ScramMechanismName, user: string, password: string, server: ScramServer) {
  const h = mechanism === 'SCRAM-SHA-256' ? 'sha256' : 'sha512';
  const bare = `n=${user.replace(/=/g, '=3D').replace(/,/g, '=2C')},r=clientnonce`;
  const serverFirst = server.evaluate(text(`n,,${bare}`)).toString();
  const fields = Object.fromEntries(serverFirst.split(',').map((f) => [f[0], f.slice(2)]));
  const salted = scramSaltedPassword(mechanism, password, Buffer.from(fields.s!, 'base64'), Number(fields.i));
  const clientKey = createHmac(h, salted).update('Client Key').digest();
  const storedKey = createHash(h).update(clientKey).digest();
  const withoutProof = `c=biws,r=${fields.r}`;
  const authMessage = `${bare},${serverFirst},${withoutProof}`;
  const signature = createHmac(h, storedKey).update(authMessage).digest();
  const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
  const serverFinal = server.evaluate(text(`${withoutProof},p=${proof.toString('base64')}`)).toString();
  const serverKey = createHmac(h, salted).update('Server Key').digest();
  return serverFinal === `v=${createHmac(h, serverKey).update(authMessage).digest('base64')}`;
}

test('SCRAM-SHA-512: a client with the password authenticates and verifies the server; a user name with , and =', () => {
  const salt = Buffer.from('0123456789abcdef');
  const user = 'a,b=c';
  const credential = scramCredentialOf(
    'SCRAM-SHA-512',
    scramSaltedPassword('SCRAM-SHA-512', 'pw', salt, 4096),
    salt,
    4096,
  );
  assert.equal(credential.storedKey.length, 64);
  const lookup = (u: string, m: ScramMechanismName) => (u === user && m === 'SCRAM-SHA-512' ? credential : undefined);
  const server = new ScramServer('SCRAM-SHA-512', lookup);
  assert.equal(clientExchange('SCRAM-SHA-512', user, 'pw', server), true);
  assert.equal(server.authorizationId, user);
  assert.throws(() => clientExchange('SCRAM-SHA-512', user, 'other', new ScramServer('SCRAM-SHA-512', lookup)));
});

test("the client side (a broker authenticating to another): RFC 7677's messages, the server's signature checked", () => {
  const client = new ScramClient('SCRAM-SHA-256', 'user', 'pencil', 'rOprNGfwEbeRWgbNEkqO');
  assert.equal(client.initialResponse().toString(), RFC7677.clientFirst);
  assert.equal(client.evaluate(text(RFC7677.serverFirst)).toString(), RFC7677.clientFinal);
  assert.equal(client.complete, false);
  client.evaluate(text(RFC7677.serverFinal));
  assert.equal(client.complete, true);

  // A peer that does not hold the user's server key cannot answer with its signature.
  const fooled = new ScramClient('SCRAM-SHA-256', 'user', 'pencil', 'rOprNGfwEbeRWgbNEkqO');
  fooled.evaluate(text(RFC7677.serverFirst));
  assert.throws(() => fooled.evaluate(text('v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=')), SaslAuthenticationError);
  // A nonce that does not extend the client's, and fewer iterations than Kafka's minimum, are refused.
  const other = new ScramClient('SCRAM-SHA-256', 'user', 'pencil', 'abc');
  assert.throws(() => other.evaluate(text(RFC7677.serverFirst)), SaslAuthenticationError);
  const few = new ScramClient('SCRAM-SHA-256', 'user', 'pencil', 'rOprNGfwEbeRWgbNEkqO');
  assert.throws(() => few.evaluate(text(RFC7677.serverFirst.replace('i=4096', 'i=1000'))), /less than the minimum/);
  // An error from the server ends the exchange with it.
  const refused = new ScramClient('SCRAM-SHA-256', 'user', 'pencil', 'rOprNGfwEbeRWgbNEkqO');
  refused.evaluate(text(RFC7677.serverFirst));
  assert.throws(() => refused.evaluate(text('e=invalid-proof')), /invalid-proof/);
});

test('client and server agree for both mechanisms, with user names holding , and =', () => {
  for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const) {
    const salt = Buffer.from('0123456789abcdef');
    const credential = scramCredentialOf(mechanism, scramSaltedPassword(mechanism, 's3cret', salt, 4096), salt, 4096);
    const server = new ScramServer(mechanism, (user, m) =>
      user === 'broker,a=b' && m === mechanism ? credential : undefined,
    );
    const client = new ScramClient(mechanism, 'broker,a=b', 's3cret');
    const serverFirst = server.evaluate(client.initialResponse());
    const serverFinal = server.evaluate(client.evaluate(serverFirst));
    client.evaluate(serverFinal);
    assert.equal(server.complete && client.complete, true, mechanism);
    assert.equal(server.authorizationId, 'broker,a=b');
    const wrong = new ScramClient(mechanism, 'broker,a=b', 'wrong');
    const denied = new ScramServer(mechanism, () => credential);
    const first = denied.evaluate(wrong.initialResponse());
    assert.throws(() => denied.evaluate(wrong.evaluate(first)), SaslAuthenticationError);
  }
});
