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
    const clientKey = Buffer.alloc(proof.length);
    for (let i = 0; i < proof.length; i++) clientKey[i] = proof[i]! ^ clientSignature[i]!;
    if (!timingSafeEqual(hash(this.mechanism, clientKey), credential.storedKey)) return this.fail();
    const serverSignature = hmac(this.mechanism, credential.serverKey, authMessage);
    this.step = 'done';
    this.credential = null;
    this.complete = true;
    this.authorizationId = this.user;
    return Buffer.from(`v=${serverSignature.toString('base64')}`, 'utf8');
  }
}
