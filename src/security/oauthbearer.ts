/**
 * SASL/OAUTHBEARER (RFC 7628) as Kafka's broker serves it (KIP-255, KIP-768): the client sends a bearer token in
 * its first message; a validator decides whether the token is good and whose it is. Two validators, chosen as
 * Kafka chooses its callback handler:
 * - unsecured (Kafka's default, for development): an unsigned JWS whose claims are checked, with the
 *   `unsecuredValidator*` options of the listener's OAuthBearerLoginModule entry;
 * - secured (`oauthbearer.sasl.server.callback.handler.class` = Kafka's OAuthBearerValidatorCallbackHandler): a
 *   JWT signed by a key of the JWKS at `sasl.oauthbearer.jwks.endpoint.url`, with expiry, issued-at, audience,
 *   issuer and subject checked as Kafka's validator checks them.
 * A token refused is answered as RFC 7628 says: a JSON error as the challenge, then, once the client has sent
 * its %x01, the authentication fails with that JSON as the message.
 */
import { type DecodedJws, decodeJws, decodeUnsecuredJws, type JsonWebKeySet, JwsError } from './jws.js';
import { SaslAuthenticationError, type SaslServer } from './sasl-server.js';

/** RFC 7628's key-value separator, and the client's whole answer to an error challenge. */
const KVSEP = '\u0001';

/** A token the validator accepted. */
export interface OAuthBearerToken {
  principalName: string;
  /** Expiry, in ms since the epoch. */
  lifetimeMs: number;
  scope: string[];
}

/** Why a token was refused, as RFC 7628's error JSON carries it. */
export interface OAuthBearerRefusal {
  /** invalid_token, or insufficient_scope with the scope wanted. */
  status: 'invalid_token' | 'insufficient_scope';
  scope?: string;
  /** For the broker's log only: the client gets the status. */
  reason: string;
}

export interface OAuthBearerValidator {
  validate(tokenValue: string, nowMs: number): OAuthBearerToken | OAuthBearerRefusal;
  /**
   * What must be done before the listener serves (fetching a JWKS endpoint); rejects to stop start-up. Later
   * failures (a refresh of the JWKS) are told to `onError`.
   */
  start?(onError: (error: Error) => void): Promise<void>;
  close?(): void;
}

/** A claim check that failed: the reason is logged, the client gets invalid_token (or insufficient_scope). */
class TokenRefused extends Error {
  constructor(
    reason: string,
    readonly status: OAuthBearerRefusal['status'] = 'invalid_token',
    readonly scope?: string,
  ) {
    super(reason);
  }
}

function refusal(e: unknown): OAuthBearerRefusal {
  if (e instanceof TokenRefused)
    return { status: e.status, reason: e.message, ...(e.scope !== undefined && { scope: e.scope }) };
  if (e instanceof JwsError) return { status: 'invalid_token', reason: e.message };
  throw e;
}

/** A NumericDate claim (seconds since the epoch, fractions allowed) in ms, or null when absent. */
function timeClaim(claims: Record<string, unknown>, name: string, required: boolean): number | null {
  const value = claims[name];
  if (value === undefined) {
    if (required) throw new TokenRefused(`the token has no "${name}" claim`);
    return null;
  }
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new TokenRefused(`the "${name}" claim is not a number`);
  return Math.round(value * 1000);
}

/** The principal: a string claim, required and not empty. */
function principalClaim(claims: Record<string, unknown>, name: string): string {
  const value = claims[name];
  if (typeof value !== 'string' || value.trim() === '')
    throw new TokenRefused(`the token has no string "${name}" claim naming its principal`);
  return value;
}

/** A scope claim: a space-delimited string or a list of strings (Kafka reads both). */
function scopeClaim(claims: Record<string, unknown>, name: string): string[] {
  const value = claims[name];
  if (value === undefined) return [];
  if (typeof value === 'string') return value.split(' ').filter((s) => s !== '');
  if (Array.isArray(value) && value.every((s) => typeof s === 'string')) return value as string[];
  throw new TokenRefused(`the "${name}" claim is neither a string nor a list of strings`);
}

/** Expiry and issue time against the clock, with the skew allowed. */
function checkTimes(claims: Record<string, unknown>, nowMs: number, skewMs: number, issuedAtRequired: boolean) {
  const expiresAt = timeClaim(claims, 'exp', true)!;
  const issuedAt = timeClaim(claims, 'iat', issuedAtRequired);
  const notBefore = timeClaim(claims, 'nbf', false);
  if (nowMs >= expiresAt + skewMs) throw new TokenRefused(`the token expired at ${new Date(expiresAt).toISOString()}`);
  if (issuedAt !== null && issuedAt > nowMs + skewMs)
    throw new TokenRefused(`the token's issue time ${new Date(issuedAt).toISOString()} is in the future`);
  if (notBefore !== null && notBefore > nowMs + skewMs)
    throw new TokenRefused(`the token is not valid before ${new Date(notBefore).toISOString()}`);
  if (issuedAt !== null && expiresAt <= issuedAt) throw new TokenRefused('the token expires before it was issued');
  return expiresAt;
}

/** Kafka's OAuthBearerUnsecuredValidatorCallbackHandler options, from the OAuthBearerLoginModule entry. */
export interface UnsecuredValidatorOptions {
  principalClaimName: string;
  scopeClaimName: string;
  requiredScope: string[];
  allowableClockSkewMs: number;
}

/** Unsigned tokens: for development only, as in Kafka (anyone can write one for any principal). */
export class UnsecuredValidator implements OAuthBearerValidator {
  constructor(private readonly options: UnsecuredValidatorOptions) {}

  validate(tokenValue: string, nowMs: number): OAuthBearerToken | OAuthBearerRefusal {
    try {
      const { claims } = decodeUnsecuredJws(tokenValue);
      const { principalClaimName, scopeClaimName, requiredScope, allowableClockSkewMs } = this.options;
      const principalName = principalClaim(claims, principalClaimName);
      const lifetimeMs = checkTimes(claims, nowMs, allowableClockSkewMs, false);
      const scope = scopeClaim(claims, scopeClaimName);
      const missing = requiredScope.filter((s) => !scope.includes(s));
      if (missing.length > 0)
        throw new TokenRefused(
          `the token's scope lacks ${missing.join(' ')}`,
          'insufficient_scope',
          requiredScope.join(' '),
        );
      return { principalName, lifetimeMs, scope };
    } catch (e) {
      return refusal(e);
    }
  }
}

/** Kafka's sasl.oauthbearer.* settings of the secured validator (KIP-768). */
export interface JwksValidatorOptions {
  /** The key set now; `refresh` is asked for a newer one when a token names a key id it does not have. */
  keys: () => JsonWebKeySet;
  refresh: (kid: string) => void;
  start?: (onError: (error: Error) => void) => Promise<void>;
  close?: () => void;
  expectedAudience: string[];
  expectedIssuer: string | null;
  subClaimName: string;
  scopeClaimName: string;
  clockSkewMs: number;
}

/** Signed JWTs, verified against the configured JWKS: what production OAUTHBEARER uses. */
export class JwksValidator implements OAuthBearerValidator {
  constructor(private readonly options: JwksValidatorOptions) {}

  async start(onError: (error: Error) => void): Promise<void> {
    await this.options.start?.(onError);
  }

  close(): void {
    this.options.close?.();
  }

  validate(tokenValue: string, nowMs: number): OAuthBearerToken | OAuthBearerRefusal {
    try {
      const jws = decodeJws(tokenValue);
      this.verify(jws);
      const { claims } = jws;
      const { expectedAudience, expectedIssuer, subClaimName, scopeClaimName, clockSkewMs } = this.options;
      const lifetimeMs = checkTimes(claims, nowMs, clockSkewMs, true);
      if (expectedIssuer !== null && claims.iss !== expectedIssuer)
        throw new TokenRefused(`the token's issuer ${JSON.stringify(claims.iss)} is not ${expectedIssuer}`);
      if (expectedAudience.length > 0) {
        const audience = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : [];
        if (!audience.some((a) => expectedAudience.includes(a as string)))
          throw new TokenRefused(`the token's audience ${JSON.stringify(claims.aud)} is not an expected one`);
      }
      return {
        principalName: principalClaim(claims, subClaimName),
        lifetimeMs,
        scope: scopeClaim(claims, scopeClaimName),
      };
    } catch (e) {
      return refusal(e);
    }
  }

  private verify(jws: DecodedJws): void {
    const kid = jws.header.kid;
    if (typeof kid === 'string' && !this.options.keys().hasKey(kid)) this.options.refresh(kid);
    this.options.keys().verify(jws);
  }
}

/** Kafka's limits on a client first message's parts. */
const SASLNAME = '(?:[\\x01-\\x2B\\x2D-\\x3C\\x3E-\\x7F]|=2C|=3D)+';
const CLIENT_FIRST_MESSAGE = new RegExp(
  `^n,(?:a=(${SASLNAME}))?,${KVSEP}((?:[A-Za-z]+=[\\x21-\\x7E \\t\\r\\n]+${KVSEP})*)${KVSEP}$`,
);
const AUTH_VALUE = /^(\w+) +([-_.a-zA-Z0-9]+)$/;

/** The message Kafka's authenticator gives for a client first message it cannot read (no detail leaks). */
const INVALID_FIRST_MESSAGE = 'Invalid OAUTHBEARER client first message';

/** The server side of one OAUTHBEARER exchange. */
export class OAuthBearerServer implements SaslServer {
  complete = false;
  authorizationId = '';
  /** Once complete: the token's expiry, which bounds the session (KIP-368). */
  credentialExpiresAtMs = 0;
  private errorMessage: string | null = null;

  constructor(
    private readonly validator: OAuthBearerValidator,
    private readonly now: () => number = Date.now,
    private readonly onRefused: (reason: string) => void = () => {},
  ) {}

  evaluate(response: Buffer): Buffer {
    if (this.complete)
      throw new SaslAuthenticationError('Authentication failed: OAUTHBEARER exchange already complete');
    if (this.errorMessage !== null) {
      // After an error challenge the client's only answer is %x01; the failure is then final.
      throw new SaslAuthenticationError(this.errorMessage);
    }
    const match = CLIENT_FIRST_MESSAGE.exec(response.toString('utf8'));
    if (!match) throw new Error(INVALID_FIRST_MESSAGE);
    const authzid = (match[1] ?? '').replaceAll('=2C', ',').replaceAll('=3D', '=');
    let tokenValue: string | null = null;
    for (const pair of match[2]!.split(KVSEP)) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      if (pair.slice(0, eq) !== 'auth') continue; // extensions: accepted, as Kafka's validators accept them all
      const auth = AUTH_VALUE.exec(pair.slice(eq + 1));
      if (!auth || auth[1]!.toLowerCase() !== 'bearer') throw new Error(INVALID_FIRST_MESSAGE);
      tokenValue = auth[2]!;
    }
    if (tokenValue === null) throw new Error(INVALID_FIRST_MESSAGE);
    const result = this.validator.validate(tokenValue, this.now());
    if ('status' in result) {
      this.onRefused(result.reason);
      this.errorMessage = JSON.stringify({
        status: result.status,
        ...(result.scope !== undefined && { scope: result.scope }),
      });
      return Buffer.from(this.errorMessage, 'utf8');
    }
    if (authzid !== '' && authzid !== result.principalName)
      throw new SaslAuthenticationError(
        `Authentication failed: Client requested an authorization id (${authzid}) that is different from the token's principal name (${result.principalName})`,
      );
    this.authorizationId = result.principalName;
    this.credentialExpiresAtMs = result.lifetimeMs;
    this.complete = true;
    return Buffer.alloc(0);
  }
}
