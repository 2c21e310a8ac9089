/**
 * Raised when bytes from the wire (or from disk) do not form a valid value.
 * The connection layer turns it into Kafka's CORRUPT_MESSAGE / INVALID_REQUEST, or closes the connection;
 * it never escapes as a RangeError from inside Buffer.
 */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  /** Byte position in the input where the problem was found. */
  readonly position: number;

  constructor(message: string, position: number) {
    super(`${message} (at byte ${position})`);
    this.position = position;
  }
}
