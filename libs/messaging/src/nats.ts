import type { NatsConnection } from '@nats-io/nats-core';
import { connect, NodeConnectionOptions } from '@nats-io/transport-node';
import { consoleLogger, errorFields, MessagingLogger } from './logger';

/**
 * Connects to NATS and keeps reconnecting forever once connected: a broker restart must not
 * kill the apps, their consume loops resume when the connection is back. The first connect
 * fails fast with a message that says where NATS was expected, so `npm start` can tell the
 * user what is missing.
 */
export async function connectNats(
  url: string,
  name: string,
  options: Partial<NodeConnectionOptions> & { logger?: MessagingLogger } = {},
): Promise<NatsConnection> {
  const { logger = consoleLogger, ...overrides } = options;
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: url,
      name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1_000,
      reconnectJitter: 500,
      pingInterval: 20_000,
      // Otherwise every request (each JetStream publish) builds two Error objects up front for
      // their stack traces: a tenth of the relay's busy CPU in a profile under load. A timeout
      // then carries the client's stack, not the caller's; our callers log what they published.
      noAsyncTraces: true,
      ...overrides,
    });
  } catch (err) {
    throw new Error(`Cannot connect to NATS at ${url} (set NATS_URL): ${(err as Error).message}`, {
      cause: err,
    });
  }
  void logStatus(nc, name, logger);
  return nc;
}

async function logStatus(nc: NatsConnection, name: string, logger: MessagingLogger): Promise<void> {
  try {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect')
        logger.warn({ nats: name, server: status.server }, 'NATS disconnected');
      else if (status.type === 'reconnect')
        logger.info({ nats: name, server: status.server }, 'NATS reconnected');
      else if (status.type === 'error')
        logger.error({ nats: name, ...errorFields(status.error) }, 'NATS error');
    }
  } catch (err) {
    logger.warn({ nats: name, ...errorFields(err) }, 'NATS status stream ended');
  }
}
