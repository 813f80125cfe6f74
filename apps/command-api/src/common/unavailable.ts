const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);
// 57P01-03: the server shuts down or is starting; 53300: too many connections.
const PG_UNAVAILABLE = new Set(['57P01', '57P02', '57P03', '53300']);
const PG_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Cannot use a pool after calling end',
];
const NATS_ERRORS = new Set([
  'ConnectionError',
  'ClosedConnectionError',
  'DrainingConnectionError',
  'NoRespondersError',
]);

/**
 * True when `error` says Postgres or NATS cannot be reached right now (503), as opposed to a
 * bug or a bad request. Checks codes and classes first, messages only for pg's plain Errors.
 */
export function isDependencyUnavailable(error: unknown, depth = 0): boolean {
  if (depth > 3 || typeof error !== 'object' || error === null) return false;
  if (error instanceof AggregateError) return error.errors.some((e) => isDependencyUnavailable(e, depth + 1));
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code) || PG_UNAVAILABLE.has(code) || code.startsWith('08')) return true;
  }
  if (error instanceof Error) {
    if (NATS_ERRORS.has(error.name)) return true;
    if (PG_MESSAGES.some((message) => error.message.includes(message))) return true;
    if (error.cause) return isDependencyUnavailable(error.cause, depth + 1);
  }
  return false;
}
