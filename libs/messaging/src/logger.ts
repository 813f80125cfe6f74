/**
 * The logging surface the messaging lib needs; a pino logger satisfies it. Fields first,
 * message second, so logs stay structured (JSON lines with correlation ids).
 */
export interface MessagingLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

const write = (level: string) => (fields: object, message: string) =>
  console.error(JSON.stringify({ level, time: new Date().toISOString(), ...fields, msg: message }));

/** Default when an app passes none: warnings and errors only, as JSON lines on stderr. */
export const consoleLogger: MessagingLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: write('warn'),
  error: write('error'),
};

export const silentLogger: MessagingLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** Error fields for a log line (pino's `err` convention). */
export function errorFields(err: unknown): { err: { message: string; name?: string; code?: unknown } } {
  if (err instanceof Error) {
    const code = (err as Error & { code?: unknown }).code;
    return { err: { name: err.name, message: err.message, ...(code === undefined ? {} : { code }) } };
  }
  return { err: { message: String(err) } };
}
