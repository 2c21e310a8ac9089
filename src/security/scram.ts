import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { SaslAuthenticationError, type SaslServer } from './sasl-server.js';

/** Kafka's SCRAM mechanisms, with their type on the wire (AlterUserScramCredentials) and hash. */
export const SCRAM_MECHANISMS = {
  'SCRAM-SHA-256': { type: 1, hash: 'sha256' },
  'SCRAM-SHA-512': { type: 2, hash: 'sha512' },
} as const;
export type ScramMechanismName = keyof typeof SCRAM_MECHANISMS;

/** Kafka's bounds on a credential's PBKDF2 iterations (ScramMechanism.minIterations, and the controller's max). */
export const SCRAM_MIN_ITERATIONS = 4096;
export const SCRAM_MAX_ITERATIONS = 16384;
/** Bytes of the server's part of the nonce, from a secure random source. */
const SERVER_NONCE_BYTES = 24;

export function isScramMechanism(name: string): name is ScramMechanismName {
  return Object.hasOwn(SCRAM_MECHANISMS, name);
}

/** The mechanism of a wire type (1: SCRAM-SHA-256, 2: SCRAM-SHA-512), or undefined (Kafka's UNKNOWN). */
export function scramMechanismOfType(type: number): ScramMechanismName | undefined {
  for (const [name, m] of Object.entries(SCRAM_MECHANISMS)) if (m.type === type) return name as ScramMechanismName;
  return undefined;
}

/**
 * What the broker keeps of a SCRAM password (RFC 5802): enough to check a client's proof and to prove itself,
 * not enough to log in as the user. The password and the salted password are never stored.
 */
export interface ScramCredential {
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
  iterations: number;
}

export type ScramCredentialLookup = (user: string, mechanism: ScramMechanismName) => ScramCredential | undefined;

function hmac(mechanism: ScramMechanismName, key: Buffer, text: string | Buffer): Buffer {
  return createHmac(SCRAM_MECHANISMS[mechanism].hash, key).update(text).digest();
}

function hash(mechanism: ScramMechanismName, data: Buffer): Buffer {
  return createHash(SCRAM_MECHANISMS[mechanism].hash).update(data).digest();
}

/** a XOR b, of equal lengths: ClientProof := ClientKey XOR ClientSignature, and back. */
function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** SaltedPassword := Hi(Normalize(password), salt, i), Hi being PBKDF2 with the mechanism's HMAC. */
export function scramSaltedPassword(
  mechanism: ScramMechanismName,
  password: string,
  salt: Buffer,
  iterations: number,
): Buffer {
  const h = SCRAM_MECHANISMS[mechanism].hash;
  return pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, createHash(h).digest().length, h);
}

/** StoredKey := H(HMAC(SaltedPassword, "Client Key")), ServerKey := HMAC(SaltedPassword, "Server Key"). */
export function scramCredentialOf(
  mechanism: ScramMechanismName,
  saltedPassword: Buffer,
  salt: Buffer,
  iterations: number,
): ScramCredential {
  const clientKey = hmac(mechanism, saltedPassword, 'Client Key');
  return {
    salt: Buffer.from(salt),
    storedKey: hash(mechanism, clientKey),
    serverKey: hmac(mechanism, saltedPassword, 'Server Key'),
    iterations,
  };
}

/** RFC 5802's client-first-message, as Kafka reads it: gs2 header without channel binding, then n= and r=. */
const CLIENT_FIRST = /^n,(?:a=([^,]*))?,(n=([^,]*),r=([\x21-\x2b\x2d-\x7e]+)((?:,[A-Za-z]+=[^,]*)*))$/;
/** client-final-message: channel binding, the combined nonce, extensions, then the proof. */
const CLIENT_FINAL = /^(c=([A-Za-z0-9/+]+=*),r=([\x21-\x2b\x2d-\x7e]+)(?:,[A-Za-z]+=[^,]*)*),p=([A-Za-z0-9/+]+=*)$/;

/** A saslname's user name (RFC 5802: `=2C` is a comma, `=3D` an equals sign, no other `=`). */
function userOf(saslName: string): string | null {
  if (/=(?!2C|3D)/.test(saslName)) return null;
  return saslName.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

/**
 * The broker's side of SCRAM (RFC 5802, RFC 7677), as Kafka's ScramSaslServer: client-first, server-first
 * (`r=`, `s=`, `i=`), client-final whose nonce and proof are checked, server-final with the server signature.
 * Every failure of the credentials or of the messages fails with the same message Kafka gives, which does not
 * tell an unknown user from a wrong password. Kafka's `tokenauth` extension (delegation tokens) is refused.
 */
export class ScramServer implements SaslServer {
  complete = false;
  authorizationId = '';
  private step: 'client-first' | 'client-final' | 'done' = 'client-first';
  private user = '';
  private credential: ScramCredential | null = null;
  private gs2Header = '';
  private clientFirstBare = '';
  private serverFirst = '';
  private nonce = '';

  constructor(
    private readonly mechanism: ScramMechanismName,
    private readonly credentials: ScramCredentialLookup,
    private readonly serverNonce: () => string = () => randomBytes(SERVER_NONCE_BYTES).toString('base64url'),
  ) {}

  private fail(): never {
    this.step = 'done';
    this.credential = null;
    throw new SaslAuthenticationError(
      `Authentication failed during authentication due to invalid credentials with SASL mechanism ${this.mechanism}`,
    );
  }

  evaluate(response: Buffer): Buffer {
    const text = response.toString('utf8');
    if (this.step === 'client-first') return this.clientFirst(text);
    if (this.step === 'client-final') return this.clientFinal(text);
    return this.fail();
  }

  private clientFirst(text: string): Buffer {
    const m = CLIENT_FIRST.exec(text);
    if (!m) return this.fail();
    const [, authzid, bare, saslName, clientNonce, extensions] = m as unknown as [
      string,
      string | undefined,
      string,
      string,
      string,
      string,
    ];
    for (const extension of extensions.split(',').slice(1)) {
      const [key, value] = extension.split('=', 2);
      if (key === 'tokenauth' && value?.toLowerCase() === 'true')
        throw new SaslAuthenticationError('Authentication failed: delegation tokens are not supported');
    }
    const user = userOf(saslName);
    if (user === null || user === '') return this.fail();
    if (authzid !== undefined && authzid !== '' && userOf(authzid) !== user)
      throw new SaslAuthenticationError(
        'Authentication failed: Client requested an authorization id that is different from username',
      );
    const credential = this.credentials(user, this.mechanism);
    if (!credential) return this.fail();
    this.user = user;
    this.credential = credential;
    this.gs2Header = text.slice(0, text.length - bare.length);
    this.clientFirstBare = bare;
    this.nonce = clientNonce + this.serverNonce();
    this.serverFirst = `r=${this.nonce},s=${credential.salt.toString('base64')},i=${credential.iterations}`;
    this.step = 'client-final';
    return Buffer.from(this.serverFirst, 'utf8');
  }

  private clientFinal(text: string): Buffer {
    const credential = this.credential!;
    const m = CLIENT_FINAL.exec(text);
    if (!m) return this.fail();
    const [, withoutProof, channelBinding, nonce, proofText] = m as unknown as [string, string, string, string, string];
    // Kafka checks that the nonce ends with the one it sent, not that it equals it: librdkafka (2.0) repeats
    // its own nonce in front. The proof covers the message as sent, so nothing is weakened.
    if (!nonce.endsWith(this.nonce)) return this.fail();
    // No channel binding: the client repeats its gs2 header (`n,,` is `biws`).
    if (Buffer.from(channelBinding, 'base64').toString('utf8') !== this.gs2Header) return this.fail();
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const proof = Buffer.from(proofText, 'base64');
    const clientSignature = hmac(this.mechanism, credential.storedKey, authMessage);
    if (proof.length !== clientSignature.length) return this.fail();
    const clientKey = xor(proof, clientSignature);
    if (!timingSafeEqual(hash(this.mechanism, clientKey), credential.storedKey)) return this.fail();
    const serverSignature = hmac(this.mechanism, credential.serverKey, authMessage);
    this.step = 'done';
    this.credential = null;
    this.complete = true;
    this.authorizationId = this.user;
    return Buffer.from(`v=${serverSignature.toString('base64')}`, 'utf8');
  }
}

/** A user name as a saslname (RFC 5802: a comma is `=2C`, an equals sign `=3D`). */
function saslNameOf(user: string): string {
  return user.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

/** server-first-message: the combined nonce, the salt and the iteration count. */
const SERVER_FIRST = /^(?:m=[^,]*,)?r=([\x21-\x2b\x2d-\x7e]+),s=([A-Za-z0-9/+]+=*),i=(\d+)(?:,.*)?$/;

/**
 * The client's side of SCRAM (RFC 5802), as Kafka's ScramSaslClient: what a broker sends to authenticate to
 * another. It computes its proof from the password with the server's credential-building steps above, and
 * checks the server's signature: a peer that does not hold this user's server key is not trusted either.
 */
export class ScramClient {
  complete = false;
  private step: 'server-first' | 'server-final' | 'done' = 'server-first';
  private readonly clientNonce: string;
  private readonly clientFirstBare: string;
  private expectedServerSignature: Buffer | null = null;

  constructor(
    private readonly mechanism: ScramMechanismName,
    username: string,
    private readonly password: string,
    clientNonce: string = randomBytes(SERVER_NONCE_BYTES).toString('base64url'),
  ) {
    this.clientNonce = clientNonce;
    this.clientFirstBare = `n=${saslNameOf(username)},r=${clientNonce}`;
  }

  /** client-first-message: no channel binding, no authorization id. */
  initialResponse(): Buffer {
    return Buffer.from(`n,,${this.clientFirstBare}`, 'utf8');
  }

  /** Answers the server's challenge; throws SaslAuthenticationError on a message that does not follow. */
  evaluate(challenge: Buffer): Buffer {
    const text = challenge.toString('utf8');
    if (this.step === 'server-first') return this.serverFirst(text);
    if (this.step === 'server-final') return this.serverFinal(text);
    throw new SaslAuthenticationError(`${this.mechanism}: unexpected message after the exchange ended`);
  }

  private serverFirst(text: string): Buffer {
    const m = SERVER_FIRST.exec(text);
    if (!m) throw new SaslAuthenticationError(`${this.mechanism}: invalid server-first-message`);
    const [, nonce, saltText, iterationsText] = m as unknown as [string, string, string, string];
    if (!nonce.startsWith(this.clientNonce) || nonce.length === this.clientNonce.length)
      throw new SaslAuthenticationError(`${this.mechanism}: the server's nonce does not extend the client's`);
    const iterations = Number(iterationsText);
    // Kafka's client refuses fewer iterations than the mechanism's minimum (a downgraded credential).
    if (iterations < SCRAM_MIN_ITERATIONS)
      throw new SaslAuthenticationError(
        `${this.mechanism}: requested iterations ${iterations} is less than the minimum ${SCRAM_MIN_ITERATIONS}`,
      );
    const salt = Buffer.from(saltText, 'base64');
    const salted = scramSaltedPassword(this.mechanism, this.password, salt, iterations);
    const { storedKey, serverKey } = scramCredentialOf(this.mechanism, salted, salt, iterations);
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${text},${withoutProof}`;
    const proof = xor(hmac(this.mechanism, salted, 'Client Key'), hmac(this.mechanism, storedKey, authMessage));
    this.expectedServerSignature = hmac(this.mechanism, serverKey, authMessage);
    this.step = 'server-final';
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`, 'utf8');
  }

  private serverFinal(text: string): Buffer {
    this.step = 'done';
    if (text.startsWith('e=')) throw new SaslAuthenticationError(`${this.mechanism}: ${text.slice(2)}`);
    const m = /^v=([A-Za-z0-9/+]+=*)/.exec(text);
    const signature = m ? Buffer.from(m[1]!, 'base64') : Buffer.alloc(0);
    const expected = this.expectedServerSignature!;
    if (signature.length !== expected.length || !timingSafeEqual(signature, expected))
      throw new SaslAuthenticationError(`${this.mechanism}: invalid server signature in server-final-message`);
    this.complete = true;
    return Buffer.alloc(0);
  }
}
