/**
 * Thrown by a message handler when retrying cannot help (malformed payload, unknown
 * type): the worker terminates the message at once and records it as a dead letter.
 */
export class PoisonMessageError extends Error {
  readonly code = 'MESSAGING.POISON_MESSAGE';

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PoisonMessageError';
  }
}
