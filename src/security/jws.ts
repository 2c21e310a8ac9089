/**
 * Compact JSON Web Signatures (RFC 7515) as OAUTHBEARER carries them: the header and claims decoded, and the
 * signature checked against a JSON Web Key Set (RFC 7517) with node:crypto, which imports JWKs and verifies
 * every algorithm Kafka's validator accepts from a key set (RSA, RSA-PSS, ECDSA, EdDSA). Unsigned tokens
 * (`alg: none`) are read by `decodeUnsecuredJws` only, for the unsecured validator.
 */
import { constants, createPublicKey, type JsonWebKey, type KeyObject, verify } from 'node:crypto';

/** A token that is not a well-formed JWS, or whose signature does not verify: the client gets invalid_token. */
export class JwsError extends Error {
  override readonly name = 'JwsError';
}

export interface DecodedJws {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  /** The signing input (`header.payload` as sent) and the signature bytes. */
  signingInput: Buffer;
  signature: Buffer;
}

/** The algorithms a key from a JWKS may verify, with node:crypto's digest and options for each. */
const ALGORITHMS: Record<string, { kty: string; digest: string | null; pss?: boolean; ecdsa?: boolean }> = {
  RS256: { kty: 'RSA', digest: 'sha256' },
  RS384: { kty: 'RSA', digest: 'sha384' },
  RS512: { kty: 'RSA', digest: 'sha512' },
  PS256: { kty: 'RSA', digest: 'sha256', pss: true },
  PS384: { kty: 'RSA', digest: 'sha384', pss: true },
  PS512: { kty: 'RSA', digest: 'sha512', pss: true },
  ES256: { kty: 'EC', digest: 'sha256', ecdsa: true },
  ES384: { kty: 'EC', digest: 'sha384', ecdsa: true },
  ES512: { kty: 'EC', digest: 'sha512', ecdsa: true },
  EdDSA: { kty: 'OKP', digest: null },
};

const BASE64URL = /^[A-Za-z0-9_-]*$/;

function jsonObject(part: string, what: string): Record<string, unknown> {
  if (!BASE64URL.test(part)) throw new JwsError(`the ${what} is not base64url`);
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw new JwsError(`the ${what} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new JwsError(`the ${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

/** Splits and decodes a compact JWS; checks nothing about its signature. */
export function decodeJws(token: string): DecodedJws {
  const parts = token.split('.');
  if (parts.length !== 3) throw new JwsError(`a JWS has 3 parts, this token has ${parts.length}`);
  const [header, payload, signature] = parts as [string, string, string];
  if (!BASE64URL.test(signature)) throw new JwsError('the signature is not base64url');
  return {
    header: jsonObject(header, 'header'),
    claims: jsonObject(payload, 'payload'),
    signingInput: Buffer.from(`${header}.${payload}`, 'ascii'),
    signature: Buffer.from(signature, 'base64url'),
  };
}

/** An unsecured JWS (RFC 7515 appendix A.5): `alg` is `none` and the signature part is empty. */
export function decodeUnsecuredJws(token: string): DecodedJws {
  const jws = decodeJws(token);
  if (jws.header.alg !== 'none')
    throw new JwsError(`an unsecured JWS has alg "none", not ${JSON.stringify(jws.header.alg)}`);
  if (jws.signature.length > 0) throw new JwsError('an unsecured JWS has an empty signature');
  return jws;
}

interface JwkEntry {
  kid: string | null;
  kty: string;
  alg: string | null;
  key: KeyObject;
}

/**
 * The public keys of a JWKS document. Keys that are not for signatures (`use` other than `sig`), that are
 * symmetric (`oct`: a key set is public, so a shared secret in it would let anyone sign) or that node:crypto
 * cannot import are left out.
 */
export class JsonWebKeySet {
  private readonly keys: JwkEntry[];

  constructor(document: unknown) {
    const list = (document as { keys?: unknown } | null)?.keys;
    if (!Array.isArray(list)) throw new JwsError('a JWKS is a JSON object with a "keys" array');
    this.keys = [];
    for (const jwk of list as Array<JsonWebKey & { kid?: unknown; use?: unknown; alg?: unknown }>) {
      if (typeof jwk !== 'object' || jwk === null) continue;
      if (jwk.use !== undefined && jwk.use !== 'sig') continue;
      if (jwk.kty !== 'RSA' && jwk.kty !== 'EC' && jwk.kty !== 'OKP') continue;
      let key: KeyObject;
      try {
        key = createPublicKey({ key: jwk, format: 'jwk' });
      } catch {
        continue;
      }
      this.keys.push({
        kid: typeof jwk.kid === 'string' ? jwk.kid : null,
        kty: jwk.kty,
        alg: typeof jwk.alg === 'string' ? jwk.alg : null,
        key,
      });
    }
  }

  get size(): number {
    return this.keys.length;
  }

  /** Whether the set has a key with this id. */
  hasKey(kid: string): boolean {
    return this.keys.some((k) => k.kid === kid);
  }

  /**
   * Checks the token's signature with the key its header names (`kid`), or, without a `kid`, with any key of
   * the algorithm's type. Throws JwsError when no key verifies it.
   */
  verify(jws: DecodedJws): void {
    const alg = jws.header.alg;
    if (typeof alg !== 'string' || !Object.hasOwn(ALGORITHMS, alg))
      throw new JwsError(`algorithm ${JSON.stringify(alg)} is not accepted`);
    const spec = ALGORITHMS[alg]!;
    const kid = typeof jws.header.kid === 'string' ? jws.header.kid : null;
    const candidates = this.keys.filter(
      (k) => k.kty === spec.kty && (kid === null || k.kid === kid) && (k.alg === null || k.alg === alg),
    );
    if (candidates.length === 0)
      throw new JwsError(kid === null ? `no key for algorithm ${alg}` : `no key with id ${JSON.stringify(kid)}`);
    for (const { key } of candidates) {
      const options = spec.pss
        ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }
        : spec.ecdsa
          ? { key, dsaEncoding: 'ieee-p1363' as const }
          : key;
      let ok = false;
      try {
        ok = verify(spec.digest, jws.signingInput, options, jws.signature);
      } catch {
        ok = false;
      }
      if (ok) return;
    }
    throw new JwsError('the signature does not verify');
  }
}
