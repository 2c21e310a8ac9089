import { ErrorCode } from '../../protocol/errors.js';
import { saslAuthenticateApi } from '../../protocol/generated/apis/sasl-authenticate.js';
import type { SaslAuthenticateRequest } from '../../protocol/generated/messages/sasl-authenticate-request.js';
import type { SaslAuthenticateResponse } from '../../protocol/generated/messages/sasl-authenticate-response.js';
import { defineHandler } from '../api-handler.js';
import { evaluateSaslToken } from '../sasl-exchange.js';

/** SaslAuthenticate v1 is where KIP-368's session lifetime appears: a client using it can re-authenticate. */
const REAUTHENTICATION_VERSION = 1;

/**
 * SaslAuthenticate (v0-2): one token of the exchange SaslHandshake v1 started, and the broker's challenge back.
 * A failed authentication answers SASL_AUTHENTICATION_FAILED with the reason and closes the connection. Before
 * a handshake, ILLEGAL_SASL_STATE and the connection closed; after authentication (or on a listener without
 * SASL) ILLEGAL_SASL_STATE, as Kafka answers.
 */
export const saslAuthenticateHandler = defineHandler<SaslAuthenticateRequest, SaslAuthenticateResponse>({
  api: saslAuthenticateApi,
  minVersion: 0,
  maxVersion: 2,
  handle({ apiVersion, connection, broker }, request) {
    const sasl = connection.sasl;
    const response = (
      errorCode: number,
      errorMessage: string | null,
      authBytes: Buffer = Buffer.alloc(0),
      sessionLifetimeMs = 0,
    ) => ({ errorCode, errorMessage, authBytes, sessionLifetimeMs: BigInt(sessionLifetimeMs) });
    if (sasl === null || sasl.state === 'complete')
      return response(
        ErrorCode.ILLEGAL_SASL_STATE,
        'SaslAuthenticate request received after successful authentication',
      );
    if (sasl.state !== 'authenticate') {
      sasl.state = 'failed';
      connection.endAfterResponses();
      return response(ErrorCode.ILLEGAL_SASL_STATE, 'Unexpected SaslAuthenticate request before SaslHandshake v1');
    }
    if (apiVersion >= REAUTHENTICATION_VERSION) sasl.supportsReauthentication = true;
    const step = evaluateSaslToken(connection, request.authBytes, broker);
    if ('errorMessage' in step) {
      connection.endAfterResponses();
      return response(ErrorCode.SASL_AUTHENTICATION_FAILED, step.errorMessage);
    }
    return response(ErrorCode.NONE, null, step.challenge, step.sessionLifetimeMs);
  },
});
