import { ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export const RESTART_MIN_MS = 1_000;
export const RESTART_MAX_MS = 30_000;
/** An app up this long is considered healthy again: its next crash restarts after 1 s. */
export const RESTART_RESET_MS = 60_000;

/** Next restart delay: doubles from 1 s up to 30 s, back to 1 s after a long enough run. */
export function nextRestartDelay(previousMs: number | null, uptimeMs: number): number {
  if (previousMs === null || uptimeMs >= RESTART_RESET_MS) return RESTART_MIN_MS;
  return Math.min(previousMs * 2, RESTART_MAX_MS);
}

export interface ManagedAppOptions {
  name: string;
  command: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  write: (line: string) => void;
  say: (line: string) => void;
}

/**
 * One app as a child process, restarted with exponential backoff when it dies, as a
 * Kubernetes Deployment would. Children run in their own process group (Ctrl+C reaches the
 * launcher only, which stops them in order) with an IPC channel, whose loss tells an
 * orphaned app to shut down.
 */
export class ManagedApp {
  private child: ChildProcess | null = null;
  private startedAt = 0;
  private delayMs: number | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private stopping = false;

  constructor(private readonly options: ManagedAppOptions) {}

  get name(): string {
    return this.options.name;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    const { command, args, cwd, env, write, say, name } = this.options;
    const child = spawn(command, args, {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      detached: true,
    });
    this.child = child;
    this.startedAt = Date.now();
    say(`${name} started (pid ${child.pid})`);
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) createInterface({ input: stream }).on('line', write);
    }
    child.once('error', (error) => say(`${name} could not be started: ${error.message}`));
    child.once('exit', (code, signal) => {
      if (this.child === child) this.child = null;
      if (this.stopping) return;
      const how = signal ? `signal ${signal}` : `code ${code}`;
      this.delayMs = nextRestartDelay(this.delayMs, Date.now() - this.startedAt);
      say(`${name} exited with ${how}; restarting in ${this.delayMs / 1000}s`);
      this.restartTimer = setTimeout(() => {
        this.restartTimer = null;
        if (!this.stopping) this.start();
      }, this.delayMs);
    });
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      this.options.say(`${this.name} did not stop within ${graceMs / 1000}s; killing it`);
      child.kill('SIGKILL');
    }, graceMs);
    await exited;
    clearTimeout(timer);
  }
}
