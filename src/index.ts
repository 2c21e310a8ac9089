// The public API of the `samsa` package.
export { Broker, defaultBrokerSettings, type StartBrokerOptions, startBroker } from './broker/broker.js';
export type { BrokerSettings } from './config/broker-settings.js';
export { Logger } from './observability/logger.js';
export { ErrorCode, type ErrorInfo, errorInfo, isRetriable, KafkaError } from './protocol/errors.js';
export { DecodeError, Reader, Writer } from './protocol/primitives/index.js';
