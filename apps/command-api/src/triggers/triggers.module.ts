import { Module } from '@nestjs/common';
import { FireTriggerHandler } from './fire-trigger/fire-trigger.handler';
import { FireTriggerHttpController } from './fire-trigger/fire-trigger.http.controller';

const httpControllers = [FireTriggerHttpController];

const commandHandlers = [FireTriggerHandler];

/** Named triggers: one call runs every endpoint of the tenant that listens to the name. */
@Module({
  controllers: [...httpControllers],
  providers: [...commandHandlers],
})
export class TriggersModule {}
