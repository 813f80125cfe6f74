import { Module } from '@nestjs/common';
import { DEFAULT_EVENTS_STREAM_OPTIONS, EVENTS_STREAM_OPTIONS } from './events-stream.options';
import { EventsStreamService } from './events-stream.service';
import { StreamEventsHttpController } from './stream-events/stream-events.http.controller';

const httpControllers = [StreamEventsHttpController];
const services = [
  EventsStreamService,
  { provide: EVENTS_STREAM_OPTIONS, useValue: { ...DEFAULT_EVENTS_STREAM_OPTIONS } },
];

/** `GET /v1/events/stream`: the tenant's events as Server-Sent Events, live. */
@Module({ controllers: [...httpControllers], providers: [...services] })
export class EventsStreamModule {}
