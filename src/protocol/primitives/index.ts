export { DecodeError } from './decode-error.js';
export { Reader } from './reader.js';
export { Writer, ZERO_COPY_MIN_BYTES } from './writer.js';
