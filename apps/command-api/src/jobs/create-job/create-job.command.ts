import { Command } from '@nestjs/cqrs';
import type { CommandOrigin, WriteResult } from '../../resources/write-result';

export class CreateJobCommand extends Command<WriteResult> {
  constructor(
    readonly origin: CommandOrigin,
    readonly name: string,
    readonly description: string | null,
  ) {
    super();
  }
}
