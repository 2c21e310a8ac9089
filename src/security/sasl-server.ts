import type { ListenerSasl } from './sasl-config.js';

/**
 * sasl.server.max.receive.size's default: the largest frame a SASL connection may send before it has
 * authenticated, so that an unauthenticated client cannot make the broker hold large requests.
 */
export const SASL_MAX_RECEIVE_BYTES = 524_288;

/** One mechanism's side of a SASL exchange on the broker. */
export interface SaslServer {
  /**
   * Takes the client's next message and returns the challenge to send back (empty when there is none). Throws
   * SaslAuthenticationError when the client fails to authenticate.
   */
  evaluate(response: Buffer): Buffer;
  /** Whether the client has authenticated. */
  readonly complete: boolean;
  /** Once complete: who the client is (the principal's name). */
  readonly authorizationId: string;
  /** Once complete: when the credential itself expires (ms since the epoch), for mechanisms whose do (OAUTHBEARER). */
  readonly credentialExpiresAtMs?: number;
}

/**
 * A failed authentication. Its message goes to the client with SASL_AUTHENTICATION_FAILED and to the log, so it
 * never holds a password, and never says whether a user exists.
 */
export class SaslAuthenticationError extends Error {
  override readonly name = 'SaslAuthenticationError';
}

/**
 * Where a connection of a SASL listener is in Kafka's authentication sequence:
 * - handshake: ApiVersions and SaslHandshake may come;
 * - authenticate: after SaslHandshake v1, SaslAuthenticate requests carry the tokens;
 * - raw: after SaslHandshake v0, the tokens follow as bare size-prefixed frames (no request header);
 * - complete: authenticated, every API may be used;
 * - failed: the connection ends once the failure's response has been written.
 */
export type SaslState = 'handshake' | 'authenticate' | 'raw' | 'complete' | 'failed';

/** A SASL connection's authentication: its state, the mechanism the client chose, and that mechanism's server. */
export class SaslAuthentication {
  state: SaslState = 'handshake';
  mechanism: string | null = null;
  server: SaslServer | null = null;
  /**
   * KIP-368: when the authenticated session ends (ms since the epoch), or null when it does not. Past it the
   * connection is closed at its next request unless the client has authenticated again.
   */
  sessionExpiresAtMs: number | null = null;
  /** Whether the client can authenticate again on this connection (it used SaslHandshake v1 and SaslAuthenticate v1+). */
  supportsReauthentication = false;
  /** During a re-authentication: the principal that must come out of it (a client cannot change who it is). */
  reauthenticatingAs: string | null = null;

  constructor(readonly config: ListenerSasl) {}
}
