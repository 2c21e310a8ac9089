// The public API of the `samsa` package.
export { ErrorCode, type ErrorInfo, errorInfo, isRetriable, KafkaError } from './protocol/errors.js';
export { DecodeError, Reader, Writer } from './protocol/primitives/index.js';
