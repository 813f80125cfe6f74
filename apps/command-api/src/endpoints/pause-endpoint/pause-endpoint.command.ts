import { Command } from '@nestjs/cqrs';
import type { CommandOrigin, WriteResult } from '../../resources/write-result';

export class PauseEndpointCommand extends Command<WriteResult> {
  constructor(
    readonly origin: CommandOrigin,
    readonly endpointId: string,
    readonly until: string | null,
    readonly reason: string | null,
  ) {
    super();
  }
}
