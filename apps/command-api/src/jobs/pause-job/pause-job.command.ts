import { Command } from '@nestjs/cqrs';
import type { CommandOrigin, WriteResult } from '../../resources/write-result';

export class PauseJobCommand extends Command<WriteResult> {
  constructor(
    readonly origin: CommandOrigin,
    readonly jobId: string,
    readonly until: string | null,
    readonly reason: string | null,
  ) {
    super();
  }
}
