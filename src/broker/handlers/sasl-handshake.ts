import { ErrorCode } from '../../protocol/errors.js';
import { saslHandshakeApi } from '../../protocol/generated/apis/sasl-handshake.js';
import type { SaslHandshakeRequest } from '../../protocol/generated/messages/sasl-handshake-request.js';
import type { SaslHandshakeResponse } from '../../protocol/generated/messages/sasl-handshake-response.js';
import type { SaslMechanism } from '../../security/sasl-config.js';
import { defineHandler } from '../api-handler.js';
import { startSaslExchange } from '../sasl-exchange.js';

/** SaslHandshake v0: the mechanism's tokens follow as bare size-prefixed frames, without request headers. */
const RAW_TOKENS_VERSION = 0;

/**
 * SaslHandshake (v0-1): the client names its mechanism. On a SASL listener before authentication: NONE and the
 * exchange starts (v0: raw tokens follow; v1: SaslAuthenticate requests), or UNSUPPORTED_SASL_MECHANISM with the
 * listener's enabled mechanisms and the connection closed. After authentication with a session lifetime
 * (KIP-368), v1 starts a re-authentication with the same mechanism (another mechanism ends the connection).
 * Anywhere else (PLAINTEXT or SSL listener, or after an authentication without a lifetime) ILLEGAL_SASL_STATE,
 * as Kafka's request handler answers; a second handshake in the middle of an exchange also ends the connection,
 * as Kafka's authenticator does.
 */
export const saslHandshakeHandler = defineHandler<SaslHandshakeRequest, SaslHandshakeResponse>({
  api: saslHandshakeApi,
  minVersion: 0,
  maxVersion: 1,
  handle({ apiVersion, connection, broker }, request) {
    const sasl = connection.sasl;
    if (sasl === null) return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: [] };
    const enabled = sasl.config.enabledMechanisms;
    if (sasl.state === 'complete') {
      // KIP-368: a client whose session has a lifetime authenticates again, with the same mechanism, and must
      // come out of it as the same principal; requests already in progress keep going meanwhile.
      const canReauthenticate =
        sasl.supportsReauthentication && sasl.sessionExpiresAtMs !== null && apiVersion !== RAW_TOKENS_VERSION;
      if (!canReauthenticate) return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: [] };
      if (request.mechanism !== sasl.mechanism) {
        sasl.state = 'failed';
        connection.endAfterResponses();
        return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: [...enabled] };
      }
      sasl.reauthenticatingAs = connection.principal;
      startSaslExchange(connection, request.mechanism as SaslMechanism, broker);
      sasl.state = 'authenticate';
      return { errorCode: ErrorCode.NONE, mechanisms: [...enabled] };
    }
    if (sasl.state !== 'handshake') {
      sasl.state = 'failed';
      connection.endAfterResponses();
      return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: [...enabled] };
    }
    if (!(enabled as readonly string[]).includes(request.mechanism)) {
      sasl.state = 'failed';
      connection.endAfterResponses();
      broker.logger.info('failed authentication', {
        client: `${connection.remoteAddress}:${connection.remotePort}`,
        reason: `Unsupported SASL mechanism ${request.mechanism}`,
      });
      return { errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms: [...enabled] };
    }
    startSaslExchange(connection, request.mechanism as SaslMechanism, broker);
    sasl.state = apiVersion === RAW_TOKENS_VERSION ? 'raw' : 'authenticate';
    return { errorCode: ErrorCode.NONE, mechanisms: [...enabled] };
  },
});
