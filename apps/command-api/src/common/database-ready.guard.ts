import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { DatabaseRuntime } from '@cronicorn/platform';
import type { Request } from 'express';
import { unavailable } from './api-error';

/**
 * Global guard on `/v1`: 503 until the database exists and is migrated. Without it, requests
 * in the first seconds after start-up would hit missing tables and answer 500. Health and
 * metrics routes are left alone: liveness must not depend on Postgres.
 */
@Injectable()
export class DatabaseReadyGuard implements CanActivate {
  private ready = false;

  constructor(database: DatabaseRuntime) {
    void database.ready.then(() => (this.ready = true));
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.ready || !context.switchToHttp().getRequest<Request>().path.startsWith('/v1/')) return true;
    throw unavailable('The database is not ready yet; retry shortly');
  }
}
