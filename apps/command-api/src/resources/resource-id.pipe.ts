import { Injectable, PipeTransform } from '@nestjs/common';
import { notFound } from '@cronicorn/domain';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Route ids are UUIDs we generated. Anything else cannot name a resource, so it answers the
 * same 404 as an id of another tenant (DESIGN §6: never leak existence, never 400 on ids).
 */
@Injectable()
export class ResourceIdPipe implements PipeTransform<string, string> {
  constructor(
    private readonly notFoundCode: string,
    private readonly noun: string,
  ) {}

  transform(value: string): string {
    if (typeof value !== 'string' || !UUID.test(value)) {
      throw notFound(this.notFoundCode, `${this.noun} not found`);
    }
    return value.toLowerCase();
  }
}

export const JobIdPipe = new ResourceIdPipe('JOB.NOT_FOUND', 'Job');
export const EndpointIdPipe = new ResourceIdPipe('ENDPOINT.NOT_FOUND', 'Endpoint');
export const RunIdPipe = new ResourceIdPipe('RUN.NOT_FOUND', 'Run');
