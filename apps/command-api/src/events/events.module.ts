import { Module } from '@nestjs/common';
import { ListEventsHttpController } from './list-events/list-events.http.controller';

const httpControllers = [ListEventsHttpController];

@Module({ controllers: [...httpControllers] })
export class EventsModule {}
