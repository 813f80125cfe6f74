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

/**
 * Thrown by a message handler when the message must wait for another one that failed (a
 * later event of a stream whose earlier event is being retried). The worker retries it like
 * a failure, but after the last attempt drops it without a dead letter: the failing message
 * is the one to dead-letter, and the owner of the order (the event consumer's sweep) finds
 * this one again once that is settled.
 */
export class DeferredMessageError extends Error {
  readonly code = 'MESSAGING.DEFERRED_MESSAGE';

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DeferredMessageError';
  }
}
