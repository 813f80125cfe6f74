import { Logger } from '@nestjs/common';
import type { MessagingLogger } from '@cronicorn/messaging';

/** Routes the messaging lib's structured logs into the app's pino logger under `context`. */
export function nestMessagingLogger(context: string): MessagingLogger {
  const log = new Logger(context);
  return {
    debug: (fields, message) => log.debug(fields, message),
    info: (fields, message) => log.log(fields, message),
    warn: (fields, message) => log.warn(fields, message),
    error: (fields, message) => log.error(fields, message),
  };
}
