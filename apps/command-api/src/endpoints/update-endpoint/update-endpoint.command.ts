import { Command } from '@nestjs/cqrs';
import type { CommandOrigin, WriteResult } from '../../resources/write-result';
import type { UpdateEndpointRequestDto } from './update-endpoint.request.dto';

export class UpdateEndpointCommand extends Command<WriteResult> {
  constructor(
    readonly origin: CommandOrigin,
    readonly endpointId: string,
    readonly request: UpdateEndpointRequestDto,
  ) {
    super();
  }
}
