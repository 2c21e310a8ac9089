/** Kafka's limit on topic name length (a partition directory name must stay under 255 bytes). */
export const MAX_TOPIC_NAME_LENGTH = 249;
const LEGAL_TOPIC_NAME = /^[a-zA-Z0-9._-]+$/;

/** Internal topics that clients may not create or delete. */
export const CONSUMER_OFFSETS_TOPIC = '__consumer_offsets';
export const TRANSACTION_STATE_TOPIC = '__transaction_state';

export function isInternalTopic(name: string): boolean {
  return name === CONSUMER_OFFSETS_TOPIC || name === TRANSACTION_STATE_TOPIC;
}

/** Why a topic name is invalid, in Kafka's words, or null when it is valid. */
export function topicNameError(name: string): string | null {
  if (name.length === 0) return "Topic name is illegal, it can't be empty";
  if (name === '.' || name === '..') return 'Topic name cannot be "." or ".."';
  if (name.length > MAX_TOPIC_NAME_LENGTH) {
    return `Topic name is illegal, it can't be longer than ${MAX_TOPIC_NAME_LENGTH} characters, topic name: ${name}`;
  }
  if (!LEGAL_TOPIC_NAME.test(name)) {
    return `Topic name "${name}" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'`;
  }
  return null;
}

/**
 * Metric names replace '.' with '_', so Kafka refuses a topic whose name differs from an existing one only
 * by those two characters. This is the key under which such names collide.
 */
export function collisionKey(name: string): string {
  return name.replaceAll('.', '_');
}
