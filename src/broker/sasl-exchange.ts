import { OAuthBearerServer } from '../security/oauthbearer.js';
import { PlainServer } from '../security/plain-server.js';
import type { SaslMechanism } from '../security/sasl-config.js';
import { SaslAuthenticationError, type SaslServer } from '../security/sasl-server.js';
import { ScramServer } from '../security/scram.js';
import type { Connection } from '../server/connection.js';
import type { BrokerServices } from './api-handler.js';

/** The broker's side of a mechanism's exchange, for a client that chose it in SaslHandshake. */
function saslServerFor(mechanism: SaslMechanism, connection: Connection, broker: BrokerServices): SaslServer {
  switch (mechanism) {
    case 'PLAIN':
      return new PlainServer(connection.sasl!.config.plainUsers);
    case 'SCRAM-SHA-256':
    case 'SCRAM-SHA-512':
      return new ScramServer(mechanism, (user, m) => broker.scramCredentials.get(user, m));
    case 'OAUTHBEARER':
      return new OAuthBearerServer(connection.sasl!.config.oauthBearer!, Date.now, (reason) =>
        broker.logger.info('OAUTHBEARER token refused', {
          client: `${connection.remoteAddress}:${connection.remotePort}`,
          reason,
        }),
      );
  }
}

/** Starts the exchange of the mechanism the client chose (one of the listener's enabled mechanisms). */
export function startSaslExchange(connection: Connection, mechanism: SaslMechanism, broker: BrokerServices): void {
  const sasl = connection.sasl!;
  sasl.mechanism = mechanism;
  sasl.server = saslServerFor(mechanism, connection, broker);
}

/** A step of the exchange: the challenge, and once complete the session's lifetime in ms (0: no limit). */
export type SaslStep = { challenge: Buffer; sessionLifetimeMs: number } | { errorMessage: string };

/**
 * KIP-368: a session lasts connections.max.reauth.ms for the mechanism, or until the credential expires
 * (an OAUTHBEARER token), whichever comes first; neither set: it does not expire.
 */
function sessionLifetimeMs(connection: Connection, server: SaslServer, nowMs: number): number {
  const sasl = connection.sasl!;
  const maxReauthMs = sasl.config.maxReauthMs.get(sasl.mechanism as SaslMechanism) ?? 0;
  const credentialMs = server.credentialExpiresAtMs !== undefined ? server.credentialExpiresAtMs - nowMs : null;
  if (credentialMs === null) return maxReauthMs;
  const lifetime = maxReauthMs > 0 ? Math.min(credentialMs, maxReauthMs) : credentialMs;
  // An expired credential still gets a session of at least 1 ms: 0 would mean one that never ends.
  return Math.max(lifetime, 1);
}

/**
 * Hands the client's token to the exchange in progress. On success the connection's principal becomes
 * `User:<name>` and every API is open to it; on failure the connection is marked failed (its caller ends it) and
 * the failure is logged at INFO, as Kafka does, with the message the client gets, which holds no secret.
 */
export function evaluateSaslToken(connection: Connection, token: Buffer, broker: BrokerServices): SaslStep {
  const sasl = connection.sasl!;
  try {
    const server = sasl.server!;
    const challenge = server.evaluate(token);
    let lifetimeMs = 0;
    if (server.complete) {
      const principal = `User:${server.authorizationId}`;
      if (sasl.reauthenticatingAs !== null && sasl.reauthenticatingAs !== principal)
        throw new SaslAuthenticationError(
          `Cannot change principals during re-authentication from ${sasl.reauthenticatingAs}: ${principal}`,
        );
      const nowMs = Date.now();
      lifetimeMs = sessionLifetimeMs(connection, server, nowMs);
      connection.principal = principal;
      sasl.sessionExpiresAtMs = lifetimeMs > 0 ? nowMs + lifetimeMs : null;
      sasl.reauthenticatingAs = null;
      sasl.state = 'complete';
      sasl.server = null;
    }
    return { challenge, sessionLifetimeMs: lifetimeMs };
  } catch (e) {
    sasl.state = 'failed';
    sasl.server = null;
    const errorMessage =
      e instanceof SaslAuthenticationError
        ? e.message
        : `Authentication failed during authentication due to invalid credentials with SASL mechanism ${sasl.mechanism}`;
    broker.logger.info('failed authentication', {
      client: `${connection.remoteAddress}:${connection.remotePort}`,
      mechanism: sasl.mechanism ?? '',
      reason: errorMessage,
    });
    return { errorMessage };
  }
}
