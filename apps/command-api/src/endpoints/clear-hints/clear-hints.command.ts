import { Command } from '@nestjs/cqrs';
import type { CommandOrigin, WriteResult } from '../../resources/write-result';

export class ClearHintsCommand extends Command<WriteResult> {
  constructor(
    readonly origin: CommandOrigin,
    readonly endpointId: string,
    readonly reason: string,
  ) {
    super();
  }
}
