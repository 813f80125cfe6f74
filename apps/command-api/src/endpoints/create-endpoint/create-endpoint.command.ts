import { Command } from '@nestjs/cqrs';
import type { CommandOrigin, WriteResult } from '../../resources/write-result';
import type { CreateEndpointRequestDto } from './create-endpoint.request.dto';

export class CreateEndpointCommand extends Command<WriteResult> {
  constructor(
    readonly origin: CommandOrigin,
    readonly jobId: string,
    readonly request: CreateEndpointRequestDto,
  ) {
    super();
  }
}
