import { spawn } from 'node:child_process';
import { AddressInfo, createServer, Server } from 'node:net';
import { resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..', '..', '..');

jest.setTimeout(30_000);

/** Runs the built projector app until it exits; what it printed and its exit code. */
function runProjector(env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['dist/apps/projector/src/main.js'], {
    cwd: ROOT,
    // Nothing answers on port 1: the app retries Postgres and NATS in the background.
    env: {
      ...process.env,
      DATABASE_URL: 'postgres://postgres@127.0.0.1:1/cronicorn_none',
      NATS_URL: 'nats://127.0.0.1:1',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise((done) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      done({ code, output });
    }),
  );
}

describe('runApp', () => {
  let taken: Server;
  beforeAll(async () => {
    taken = createServer();
    await new Promise<void>((done) => taken.listen(0, done));
  });
  afterAll(() => new Promise((done) => taken.close(done)));

  it('should say which port is taken and which variable moves it, then exit 1', async () => {
    const port = (taken.address() as AddressInfo).port;
    const { code, output } = await runProjector({ PROJECTOR_PORT: String(port) });
    expect(code).toBe(1);
    expect(output).toContain(`projector failed to start`);
    expect(output).toContain(`port ${port} is taken`);
    expect(output).toContain('PROJECTOR_PORT');
  });

  it('should name the variable of a bad value, without a stack trace', async () => {
    const { code, output } = await runProjector({ LOG_LEVEL: 'verbose' });
    expect(code).toBe(1);
    expect(output).toContain('projector failed to start: LOG_LEVEL must be one of');
    expect(output).not.toMatch(/\n\s+at /);
  });
});
