import { Command } from '@nestjs/cqrs';
import type { CommandOrigin, WriteResult } from '../../resources/write-result';

export class ResumeJobCommand extends Command<WriteResult> {
  constructor(
    readonly origin: CommandOrigin,
    readonly jobId: string,
  ) {
    super();
  }
}
