import { DynamicModule, Module } from '@nestjs/common';
import { clockFromEnv, CoreModule, CoreModuleOptions } from '@cronicorn/platform';
import { SchedulerOptions } from './scheduler.options';
import { SCHEDULER_CLOCK, SCHEDULER_OPTIONS, SchedulerService } from './scheduler.service';

export interface SchedulerModuleOptions {
  core?: CoreModuleOptions;
  /** Tuning overrides (tests); production runs on the defaults. */
  scheduler?: Partial<SchedulerOptions>;
}

/** The scheduler app: the core runtime plus one supervised scheduler replica. */
@Module({})
export class SchedulerModule {
  static forRoot(options: SchedulerModuleOptions = {}): DynamicModule {
    return {
      module: SchedulerModule,
      imports: [CoreModule.forRoot('scheduler', options.core)],
      providers: [
        { provide: SCHEDULER_CLOCK, useFactory: () => clockFromEnv() },
        { provide: SCHEDULER_OPTIONS, useValue: options.scheduler ?? {} },
        SchedulerService,
      ],
      exports: [SchedulerService],
    };
  }
}

/** The app as `main.ts` starts it: configuration from the environment. */
@Module({ imports: [SchedulerModule.forRoot()] })
export class SchedulerAppModule {}
