import { Command } from '@nestjs/cqrs';
import type { TriggerSkipReason } from '@cronicorn/events';
import type { CommandOrigin } from '../../resources/write-result';

/** What firing a trigger did: one run per active listening endpoint, the paused ones skipped. */
export interface FireTriggerResult {
  triggerId: string;
  runs: { endpointId: string; runId: string }[];
  skipped: { endpointId: string; reason: TriggerSkipReason }[];
  position: string | null;
  /** `x-min-position` was given and the read models did not reach it in time. */
  lagging: boolean;
}

export class FireTriggerCommand extends Command<FireTriggerResult> {
  constructor(
    readonly origin: CommandOrigin,
    readonly name: string,
    readonly payload: unknown,
    /** Wait until the read models include this position before looking for listeners. */
    readonly minPosition: string | null = null,
  ) {
    super();
  }
}
