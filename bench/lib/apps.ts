import { ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { AppName, portVariable } from '@cronicorn/platform';

export const APP_NAMES: readonly AppName[] = [
  'command-api',
  'scheduler',
  'dispatcher',
  'ai-planner',
  'projector',
];

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * One app of `dist/` as a child process with its output in a log file (nothing goes through
 * the bench's event loop). It has an IPC channel, so it shuts itself down when the bench dies.
 * No restarts: an app that exits during a bench run is a finding, not something to hide.
 */
export class BenchApp {
  private child: ChildProcess | null = null;
  exit: { code: number | null; signal: NodeJS.Signals | null; atMs: number } | null = null;
  private stopping = false;

  constructor(
    readonly name: AppName,
    readonly port: number,
    readonly logFile: string,
    private readonly main: string,
  ) {}

  static mainOf(distRoot: string, name: AppName): string {
    return join(distRoot, 'apps', name, 'src', 'main.js');
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** True when it exited without being asked to. */
  get crashed(): boolean {
    return this.exit !== null && !this.stopping;
  }

  start(cwd: string, env: NodeJS.ProcessEnv): void {
    if (!existsSync(this.main)) throw new Error(`${this.main} does not exist: run \`npm run build\` first`);
    const fd = openSync(this.logFile, 'a');
    try {
      const child = spawn(process.execPath, [this.main], {
        cwd,
        env: { ...env, [portVariable(this.name)]: String(this.port) },
        stdio: ['ignore', fd, fd, 'ipc'],
      });
      this.child = child;
      child.once('exit', (code, signal) => {
        this.exit = { code, signal, atMs: Date.now() };
      });
      child.once('error', () => {
        this.exit ??= { code: null, signal: null, atMs: Date.now() };
      });
    } finally {
      closeSync(fd);
    }
  }

  async status(path: string, timeoutMs = 2_000): Promise<number> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.port}${path}`, {
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.arrayBuffer();
      return res.status;
    } catch {
      return 0;
    }
  }

  async metrics(timeoutMs = 3_000): Promise<string | null> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.port}/metrics`, {
        signal: AbortSignal.timeout(timeoutMs),
      });
      return res.ok ? await res.text() : null;
    } catch {
      return null;
    }
  }

  /** SIGTERM, SIGKILL after `graceMs`; resolves when the process is gone. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child || this.exit !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  /** Warnings and errors in its JSON log (pino levels 40+), with the most frequent messages. */
  problems(): LogProblems {
    let text = '';
    try {
      text = readFileSync(this.logFile, 'utf8');
    } catch {
      return { warnings: 0, errors: 0, top: [] };
    }
    let warnings = 0;
    let errors = 0;
    const counts = new Map<string, number>();
    for (const line of text.split('\n')) {
      const level = /"level":(\d+)/.exec(line)?.[1];
      if (!level || Number(level) < 40) continue;
      if (Number(level) >= 50) errors += 1;
      else warnings += 1;
      let key = line.slice(0, 200);
      try {
        const entry = JSON.parse(line) as { msg?: string; err?: { message?: string }; error?: string };
        key = `${Number(level) >= 50 ? 'error' : 'warn'}: ${entry.msg ?? ''}${
          entry.err?.message ? ` (${entry.err.message})` : entry.error ? ` (${entry.error})` : ''
        }`.slice(0, 200);
      } catch {
        // not JSON: keep the raw start of the line
      }
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    const top = [...counts.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .map(([message, count]) => ({ message, count }));
    return { warnings, errors, top };
  }

  /** Last lines of its log, for an error message. */
  tail(lines = 20): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }
}

export interface LogProblems {
  warnings: number;
  errors: number;
  top: Array<{ message: string; count: number }>;
}

/** Sums the samples of a Prometheus metric (all label sets, or those whose labels contain `labels`). */
export function metricValue(text: string | null, name: string, labels = ''): number | null {
  if (!text) return null;
  let sum: number | null = null;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    if (labels && !rest.includes(labels)) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) sum = (sum ?? 0) + value;
  }
  return sum;
}
