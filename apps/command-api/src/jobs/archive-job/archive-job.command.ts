import { Command } from '@nestjs/cqrs';
import type { CommandOrigin, WriteResult } from '../../resources/write-result';

export class ArchiveJobCommand extends Command<WriteResult> {
  constructor(
    readonly origin: CommandOrigin,
    readonly jobId: string,
  ) {
    super();
  }
}
