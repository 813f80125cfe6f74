/**
 * How a domain error maps onto the outside world; command-api turns `invalid` into 400,
 * `not_found` into 404, `conflict` into 409 (DESIGN §6).
 */
export type DomainErrorKind = 'invalid' | 'not_found' | 'conflict';

/**
 * A broken rule, with a stable `code` such as `ENDPOINT.ARCHIVED`. Never an HTTP exception:
 * libs know nothing of HTTP.
 */
export class DomainError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly kind: DomainErrorKind,
    /** Field name → what is wrong with it, for `invalid` errors. */
    readonly fields?: Record<string, string>,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const invalid = (code: string, message: string, fields?: Record<string, string>) =>
  new DomainError(code, message, 'invalid', fields);
export const notFound = (code: string, message: string) => new DomainError(code, message, 'not_found');
export const conflict = (code: string, message: string) => new DomainError(code, message, 'conflict');
