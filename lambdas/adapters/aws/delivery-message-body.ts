/**
 * The body of a delivery-queue message: JSON `{"messageId": "..."}`. Both ways into the
 * queue write it (SqsDeliveryQueue directly, EventBridge Scheduler as its target `Input`), and
 * the delivery function reads it, so the three cannot disagree. The message itself stays in
 * DynamoDB: the body names it, and the delivery function re-reads its state and due time.
 */

/** What a delivery-queue message carries. */
export type DeliveryMessageBody = { readonly messageId: string };

/** A queue message that is not a sqstash delivery message; retrying it cannot help. */
export class MalformedDeliveryMessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedDeliveryMessageError';
  }
}

export function encodeDeliveryMessageBody(messageId: string): string {
  const body: DeliveryMessageBody = { messageId };
  return JSON.stringify(body);
}

/** The message id a delivery-queue message names. */
export function parseDeliveryMessageBody(body: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  const messageId =
    typeof parsed === 'object' && parsed !== null && 'messageId' in parsed
      ? parsed.messageId
      : undefined;
  if (typeof messageId !== 'string' || messageId === '') {
    throw new MalformedDeliveryMessageError(
      `not a sqstash delivery message: expected JSON {"messageId": "msg_..."}, got ${body.slice(0, 200)}`,
    );
  }
  return messageId;
}
