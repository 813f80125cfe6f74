import { Command } from '@nestjs/cqrs';
import type { CommandOrigin, WriteResult } from '../../resources/write-result';

export class ArchiveEndpointCommand extends Command<WriteResult> {
  constructor(
    readonly origin: CommandOrigin,
    readonly endpointId: string,
  ) {
    super();
  }
}
