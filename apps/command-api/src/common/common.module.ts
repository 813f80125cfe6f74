import { DynamicModule, Global, InjectionToken, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR, APP_PIPE } from '@nestjs/core';
import { API_OPTIONS, ApiOptions } from './api-options';
import { CommandExecutor } from './command-executor';
import { DatabaseReadyGuard } from './database-ready.guard';
import { ErrorsFilter } from './errors.filter';
import { IdempotencyInterceptor } from './idempotency/idempotency.interceptor';
import { MinPositionInterceptor, READ_MODEL_CATCH_UP, ReadModelCatchUp } from './min-position.interceptor';
import { CommandAnswerInterceptor } from './responses';
import { TransactionContext } from './transaction-context';
import { UndeclaredInputInterceptor } from './undeclared-input.interceptor';
import { createValidationPipe } from './validation';

const services = [TransactionContext, CommandExecutor];

// Interceptors run outermost first, in this order.
const httpPipeline = [
  { provide: APP_FILTER, useClass: ErrorsFilter },
  { provide: APP_PIPE, useFactory: createValidationPipe },
  { provide: APP_GUARD, useClass: DatabaseReadyGuard },
  { provide: APP_INTERCEPTOR, useClass: UndeclaredInputInterceptor },
  { provide: APP_INTERCEPTOR, useClass: IdempotencyInterceptor },
  { provide: APP_INTERCEPTOR, useClass: CommandAnswerInterceptor },
  { provide: APP_INTERCEPTOR, useClass: MinPositionInterceptor },
];

export interface CommonModuleOptions {
  options: ApiOptions;
  /** How `x-min-position` waits for the read models. */
  catchUp: { useFactory: (...deps: never[]) => ReadModelCatchUp; inject?: InjectionToken[] };
}

/** The executor, the ambient transaction and the HTTP pipeline shared by every module. */
@Global()
@Module({})
export class CommonModule {
  static forRoot({ options, catchUp }: CommonModuleOptions): DynamicModule {
    const settings = [
      { provide: API_OPTIONS, useValue: options },
      { provide: READ_MODEL_CATCH_UP, useFactory: catchUp.useFactory, inject: catchUp.inject ?? [] },
    ];
    return {
      module: CommonModule,
      global: true,
      providers: [...settings, ...services, ...httpPipeline],
      exports: [...settings, ...services],
    };
  }
}
