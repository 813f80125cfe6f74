import { Controller, Get, Header, Inject, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import type { Registry } from 'prom-client';
import type { AppName } from '../config';
import { DatabaseRuntime, DependencyCheck } from './database.runtime';
import { NatsRuntime } from './nats.runtime';
import { APP_NAME, METRICS_REGISTRY } from './tokens';

export interface ReadinessReport {
  status: 'ok' | 'unavailable';
  checks: { postgres: DependencyCheck; nats: DependencyCheck };
}

/** Liveness, readiness and Prometheus metrics; served by every app. */
@ApiExcludeController()
@Controller()
export class HealthController {
  constructor(
    @Inject(APP_NAME) private readonly app: AppName,
    private readonly database: DatabaseRuntime,
    private readonly nats: NatsRuntime,
    @Inject(METRICS_REGISTRY) private readonly registry: Registry,
  ) {}

  /** 200 whenever the process serves HTTP; dependencies are not consulted. */
  @Get('healthz')
  healthz(): { status: 'ok'; app: AppName } {
    return { status: 'ok', app: this.app };
  }

  /** 200 when Postgres answers `SELECT 1` (migrated) and NATS answers a ping; 503 otherwise. */
  @Get('readyz')
  async readyz(@Res({ passthrough: true }) res: Response): Promise<ReadinessReport> {
    const [postgres, nats] = await Promise.all([this.database.check(), this.nats.check()]);
    const ok = postgres.ok && nats.ok;
    res.status(ok ? 200 : 503);
    return { status: ok ? 'ok' : 'unavailable', checks: { postgres, nats } };
  }

  @Get('metrics')
  @Header('Cache-Control', 'no-store')
  async metrics(@Res({ passthrough: true }) res: Response): Promise<string> {
    res.type(this.registry.contentType);
    return this.registry.metrics();
  }
}
