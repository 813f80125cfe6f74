import { DynamicModule, Module } from '@nestjs/common';
import { clockFromEnv, CoreModule, CoreModuleOptions } from '@cronicorn/platform';
import { AiPlannerOptions } from './ai-planner.options';
import { AI_PLANNER_CLOCK, AI_PLANNER_OPTIONS, AiPlannerService } from './ai-planner.service';

export interface AiPlannerModuleOptions {
  core?: CoreModuleOptions;
  /** Overrides of the options (tests); production reads the environment (DESIGN §9). */
  planner?: Partial<AiPlannerOptions>;
}

/** The ai-planner app: the core runtime plus one supervised ai-planner replica. */
@Module({})
export class AiPlannerModule {
  static forRoot(options: AiPlannerModuleOptions = {}): DynamicModule {
    return {
      module: AiPlannerModule,
      imports: [CoreModule.forRoot('ai-planner', options.core)],
      providers: [
        { provide: AI_PLANNER_CLOCK, useFactory: () => clockFromEnv() },
        { provide: AI_PLANNER_OPTIONS, useValue: options.planner ?? {} },
        AiPlannerService,
      ],
      exports: [AiPlannerService],
    };
  }
}

/** The app as `main.ts` starts it: configuration from the environment. */
@Module({ imports: [AiPlannerModule.forRoot()] })
export class AiPlannerAppModule {}
