import { Command } from '@nestjs/cqrs';
import type { CommandOrigin } from '../../resources/write-result';

export interface RetryRunResult {
  /** The new run. */
  runId: string;
  /** The run it repeats. */
  retryOf: string;
  endpointId: string;
  position: string | null;
}

export class RetryRunCommand extends Command<RetryRunResult> {
  constructor(
    readonly origin: CommandOrigin,
    readonly runId: string,
  ) {
    super();
  }
}
