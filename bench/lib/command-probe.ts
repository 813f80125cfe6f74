import type { Pool } from 'pg';
import { Api } from './api';
import { Percentiles, percentiles } from './stats';

const STEPS = [
  { command: 'pause', status: 'paused' },
  { command: 'resume', status: 'active' },
] as const;

/** A command's fold time, and when the API answered it. */
interface FoldSample {
  answeredAt: number;
  ms: number;
}

/**
 * How long a user command takes to reach the scheduler under load: every `everyMs` it pauses,
 * then resumes, a probe endpoint that never runs in the window, and times each from the API's
 * answer until the scheduler's row shows the new status (what decides whether runs go on).
 * One cycle at a time; a step that waits longer than `giveUpMs` is a timeout.
 */
export class CommandProbe {
  private readonly samples: FoldSample[] = [];
  timeouts = 0;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private stopped = false;

  constructor(
    private readonly api: Api,
    private readonly pool: Pool,
    private readonly endpointId: string,
    private readonly pollMs = 50,
    private readonly giveUpMs = 60_000,
  ) {}

  /** Creates the probe endpoint in `jobId`: a one-time run a day ahead, outside any window. */
  static async create(api: Api, pool: Pool, jobId: string, url: string): Promise<CommandProbe> {
    const { endpointId } = await api.request<{ endpointId: string }>('POST', `/v1/jobs/${jobId}/endpoints`, {
      name: 'bench-command-probe',
      url,
      runAt: new Date(Date.now() + 86_400_000).toISOString(),
    });
    return new CommandProbe(api, pool, endpointId);
  }

  start(everyMs = 5_000): void {
    this.timer = setInterval(() => {
      if (!this.running) void this.cycle();
    }, everyMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * The commands answered inside [fromMs, toMs), like every other figure of the window; those
   * of the warm-up (the backlog of creating the endpoints) are summed up apart.
   */
  report(fromMs: number, toMs: number): Percentiles & { timeouts: number; warmup: Percentiles } {
    const inside = this.samples.filter((s) => s.answeredAt >= fromMs && s.answeredAt < toMs);
    const before = this.samples.filter((s) => s.answeredAt < fromMs);
    return {
      ...percentiles(inside.map((s) => s.ms)),
      timeouts: this.timeouts,
      warmup: percentiles(before.map((s) => s.ms)),
    };
  }

  private async cycle(): Promise<void> {
    this.running = true;
    try {
      for (const step of STEPS) {
        if (this.stopped) return;
        await this.api.request('POST', `/v1/endpoints/${this.endpointId}/${step.command}`, {});
        const answeredAt = Date.now();
        if (!(await this.until(step.status))) {
          if (!this.stopped) this.timeouts += 1;
          return;
        }
        this.samples.push({ answeredAt, ms: Date.now() - answeredAt });
      }
    } catch {
      // a failed request is not a fold time; the next cycle tries again
    } finally {
      this.running = false;
    }
  }

  private async until(status: string): Promise<boolean> {
    const deadline = Date.now() + this.giveUpMs;
    while (!this.stopped && Date.now() < deadline) {
      const { rows } = await this.pool.query<{ status: string }>(
        'SELECT status FROM scheduler_endpoints WHERE endpoint_id = $1',
        [this.endpointId],
      );
      if (rows[0]?.status === status) return true;
      await new Promise((resolve) => setTimeout(resolve, this.pollMs));
    }
    return false;
  }
}
