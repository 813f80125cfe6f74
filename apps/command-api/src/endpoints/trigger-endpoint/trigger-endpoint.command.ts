import { Command } from '@nestjs/cqrs';
import type { CommandOrigin, WriteResult } from '../../resources/write-result';

export class TriggerEndpointCommand extends Command<WriteResult & { runId: string }> {
  constructor(
    readonly origin: CommandOrigin,
    readonly endpointId: string,
  ) {
    super();
  }
}
