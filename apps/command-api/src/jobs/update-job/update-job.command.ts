import { Command } from '@nestjs/cqrs';
import type { CommandOrigin, WriteResult } from '../../resources/write-result';

/** Fields left undefined keep their value. */
export class UpdateJobCommand extends Command<WriteResult> {
  constructor(
    readonly origin: CommandOrigin,
    readonly jobId: string,
    readonly changes: { name?: string; description?: string | null },
  ) {
    super();
  }
}
