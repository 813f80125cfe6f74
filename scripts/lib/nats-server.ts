import { ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { waitForPort } from './net';

export function findOnPath(command: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** A `nats-server -js` child with its store under `storeDir`, in its own process group. */
export class NatsServerProcess {
  private child: ChildProcess | null = null;

  constructor(
    private readonly binary: string,
    private readonly storeDir: string,
    readonly port: number,
    private readonly write: (line: string) => void,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    mkdirSync(this.storeDir, { recursive: true });
    const child = spawn(
      this.binary,
      ['-js', '-sd', this.storeDir, '-a', '127.0.0.1', '-p', String(this.port)],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      },
    );
    this.child = child;
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) createInterface({ input: stream }).on('line', this.write);
    }
    const exited = new Promise<string>((resolve) =>
      child.once('exit', (code, signal) => resolve(`nats-server exited early (${signal ?? `code ${code}`})`)),
    );
    const spawnError = new Promise<string>((resolve) =>
      child.once('error', (error) => resolve(error.message)),
    );
    const outcome = await Promise.race([
      waitForPort(this.port, '127.0.0.1', 15_000).then((up) =>
        up ? null : 'nats-server did not listen within 15s',
      ),
      exited,
      spawnError,
    ]);
    if (outcome) throw new Error(outcome);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}
