import type { Message } from './message';

/**
 * A message's fields without the body, as JSON. Stores keep the body apart as raw bytes (a
 * SQLite BLOB, a DynamoDB binary attribute) so it passes through byte for byte.
 */
export function encodeMessageFields(message: Message): string {
  const { body: _body, ...fields } = message;
  return JSON.stringify(fields);
}

export function decodeMessage(fields: string, body: Uint8Array): Message {
  return { ...(JSON.parse(fields) as Omit<Message, 'body'>), body };
}
