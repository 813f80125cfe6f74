import { randomUUID } from 'node:crypto';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { endpointDecider, RequestRun } from '@cronicorn/domain';
import { EndpointEvent, RunEvent, RunTrigger, streamIds } from '@cronicorn/events';
import { CommandExecutor } from '../../common/command-executor';
import { RetryRunCommand, RetryRunResult } from './retry-run.command';
import { liveJobGuard } from '../../endpoints/live-job.guard';

type RunTriggerPayload = RequestRun['data']['trigger'];

/** What a retry needs of the original run: its endpoint and how it was started. */
const runOrigin = {
  initialState: (): { endpointId: string; trigger: RunTrigger } | null => null,
  evolve: (state: { endpointId: string; trigger: RunTrigger } | null, event: RunEvent) =>
    state ?? { endpointId: event.data.endpointId, trigger: event.data.trigger },
};

/** The named trigger (name and payload) a requested run was started with, if any. */
function requestedTrigger(runId: string) {
  return {
    initialState: (): RunTriggerPayload => null,
    evolve: (state: RunTriggerPayload, event: EndpointEvent): RunTriggerPayload =>
      event.type === 'RunRequested' && event.data.runId === runId ? event.data.trigger : state,
  };
}

/**
 * `POST /v1/runs/:id/retry`: the same request again, now, as a new run linked to the original
 * (`RunRequested`, source `retry`). A run started by a named trigger is retried with the same
 * trigger payload, so its body template renders as it did. The schedule is left alone: the
 * scheduler hands requested runs out beside the plan.
 */
@CommandHandler(RetryRunCommand)
export class RetryRunHandler implements ICommandHandler<RetryRunCommand> {
  constructor(private readonly executor: CommandExecutor) {}

  async execute({ origin, runId: retryOf }: RetryRunCommand): Promise<RetryRunResult> {
    // The run stream (not the lagging read model): another tenant's run is a 404 like no run.
    const { state: original } = await this.executor.load(
      streamIds.run(retryOf),
      runOrigin,
      origin.auth,
      'RUN.NOT_FOUND',
    );
    if (original === null) throw new Error(`Run stream of ${retryOf} holds no run event`);
    const { endpointId } = original;
    const trigger =
      original.trigger === 'trigger' || original.trigger === 'retry'
        ? (
            await this.executor.load(
              streamIds.endpoint(endpointId),
              requestedTrigger(retryOf),
              origin.auth,
              'RUN.NOT_FOUND',
            )
          ).state
        : null;
    const runId = randomUUID();
    const command: RequestRun = {
      type: 'RequestRun',
      data: { endpointId, runId, source: 'retry', trigger, retryOf },
      metadata: { now: new Date() },
    };
    const { position } = await this.executor.execute({
      streamId: streamIds.endpoint(endpointId),
      decider: endpointDecider,
      command,
      guard: liveJobGuard(this.executor, origin.auth),
      ...origin,
    });
    return { runId, retryOf, endpointId, position };
  }
}
