import { Logger as NestLogger, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Request } from 'express';
import { Logger } from 'nestjs-pino';
import { AppName, ConfigError, CronicornConfig, loadConfig, portVariable } from '../config';
import { CONFIG } from './tokens';

export interface BootstrapOptions {
  /** Runs after logging and before `listen`: global pipes, Swagger, filters. */
  configure?: (app: NestExpressApplication, config: CronicornConfig) => void | Promise<void>;
  /** Largest JSON body accepted (body-parser syntax); default `100kb`. */
  bodyLimit?: string;
  /** Which requests' bodies are parsed as JSON (body-parser's `type`); default `application/json`. */
  jsonBodyType?: (req: Request) => boolean;
}

/**
 * Creates and starts one app's HTTP server: JSON logs through pino, graceful shutdown on
 * SIGTERM/SIGINT (Nest hooks: consumers stop, in-flight work finishes, pool and NATS close,
 * then the process exits 0), listening on the app's port from the config.
 */
export async function bootstrapApp(
  module: Type<unknown>,
  appName: AppName,
  options: BootstrapOptions = {},
): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(module, {
    bufferLogs: true,
    bodyParser: false,
  });
  app.useLogger(app.get(Logger));
  // Tells scanners what to try; says nothing a client needs.
  app.disable('x-powered-by');
  const limit = options.bodyLimit ?? '100kb';
  app.useBodyParser('json', { limit, type: options.jsonBodyType ?? 'application/json' });
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  const config = app.get<CronicornConfig>(CONFIG);
  await options.configure?.(app, config);
  await app.listen(config.port);
  new NestLogger('Bootstrap').log(`${appName} listening on :${config.port}`);
  return app;
}

/**
 * `main.ts` entry: start the app, or log why it could not start and exit 1. Under a parent
 * that gave it an IPC channel (`npm start`), losing the channel means the parent died: the
 * app then shuts down rather than live on as an orphan.
 */
export function runApp(module: Type<unknown>, appName: AppName, options: BootstrapOptions = {}): void {
  if (process.send) process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
  try {
    // Checked before Nest starts, which would print a bad variable as a stack trace.
    loadConfig(appName);
  } catch (error) {
    failedToStart(appName, error);
  }
  bootstrapApp(module, appName, options).catch((error: unknown) => failedToStart(appName, error));
}

function failedToStart(appName: AppName, error: unknown): never {
  // Until `listen` succeeds Nest buffers log lines (bufferLogs): flush them or they are lost.
  NestLogger.flush();
  new NestLogger('Bootstrap').error(`${appName} failed to start: ${startupFailure(appName, error)}`);
  process.exit(1);
}

function startupFailure(appName: AppName, error: unknown): string {
  if (error instanceof ConfigError) return error.message;
  const { code, port } = (error ?? {}) as { code?: unknown; port?: unknown };
  if (code === 'EADDRINUSE') {
    return `port ${String(port)} is taken by another process; free it or set ${portVariable(appName)}`;
  }
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
