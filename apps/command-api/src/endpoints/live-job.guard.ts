import { conflict, EndpointState, jobDecider } from '@cronicorn/domain';
import { streamIds } from '@cronicorn/events';
import type { AuthContext } from '../auth/auth-context';
import type { CommandExecutor } from '../common/command-executor';

/**
 * The `guard` of a command on an endpoint: refused while its job is archived. The endpoint
 * decider cannot see the job, and the scheduler never starts a run of an archived job, so a
 * run requested there would be answered with a run id that never runs.
 */
export const liveJobGuard =
  (executor: CommandExecutor, auth: AuthContext) =>
  async (state: EndpointState): Promise<void> => {
    if (state.status === 'empty' || state.status === 'archived') return;
    const job = await executor.load(streamIds.job(state.jobId), jobDecider, auth, 'JOB.NOT_FOUND');
    if (job.state.status === 'archived') throw conflict('JOB.ARCHIVED', `Job ${state.jobId} is archived`);
  };
