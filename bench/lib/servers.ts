import { spawnSync, SpawnSyncOptions } from 'node:child_process';
import {
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { findOnPath, NatsServerProcess } from '../../scripts/lib/nats-server';

// Private Postgres and NATS servers for `--own-servers`: the same binaries as the machine's
// servers, with default settings, data on the same disk, used by the bench alone. They keep
// other users of the shared servers (connections, locks, long transactions) out of the numbers.

/** `initdb`/`pg_ctl` of the newest Postgres installed (`pg_config --bindir`, else /usr/lib/postgresql). */
function postgresBinDir(): string {
  const fromConfig = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' }).stdout?.trim();
  if (fromConfig && existsSync(join(fromConfig, 'initdb'))) return fromConfig;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!versions.length)
    throw new Error('--own-servers: no Postgres binaries found (pg_config, /usr/lib/postgresql)');
  return join(root, versions[0], 'bin');
}

export class PrivatePostgres {
  private readonly bin = postgresBinDir();
  private readonly ids: Pick<SpawnSyncOptions, 'uid' | 'gid'>;
  readonly dataDir: string;

  constructor(
    parentDir: string,
    readonly port: number,
  ) {
    // Postgres refuses to run as root: run it as the `postgres` system user then.
    if (userInfo().uid === 0) {
      const id = (flag: string) =>
        Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
      this.ids = { uid: id('-u'), gid: id('-g') };
      if (!Number.isInteger(this.ids.uid) || !this.ids.uid)
        throw new Error('--own-servers: no `postgres` user to run as');
    } else {
      this.ids = {};
    }
    mkdirSync(parentDir, { recursive: true });
    this.dataDir = mkdtempSync(join(parentDir, 'pg-'));
    if (this.ids.uid !== undefined) chownSync(this.dataDir, this.ids.uid, this.ids.gid as number);
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  private run(command: string, args: string[], timeoutMs: number): void {
    const result = spawnSync(join(this.bin, command), args, {
      ...this.ids,
      encoding: 'utf8',
      timeout: timeoutMs,
      cwd: this.dataDir,
    });
    if (result.status !== 0) {
      throw new Error(
        `${command} failed (${result.status ?? result.signal}): ${result.stderr || result.stdout}`,
      );
    }
  }

  start(): void {
    this.run(
      'initdb',
      ['-D', this.dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync'],
      120_000,
    );
    const log = join(this.dataDir, 'server.log');
    this.run(
      'pg_ctl',
      [
        'start',
        '-w',
        '-t',
        '60',
        '-D',
        this.dataDir,
        '-l',
        log,
        '-o',
        `-p ${this.port} -c listen_addresses=127.0.0.1 -k ${this.dataDir}`,
      ],
      90_000,
    );
  }

  stop(): void {
    try {
      this.run('pg_ctl', ['stop', '-w', '-t', '30', '-m', 'fast', '-D', this.dataDir], 60_000);
    } finally {
      rmSync(this.dataDir, { recursive: true, force: true });
    }
  }
}

export class PrivateNats {
  private readonly server: NatsServerProcess;
  readonly storeDir: string;

  constructor(parentDir: string, port: number, logFile: string) {
    const binary = findOnPath('nats-server');
    if (!binary) throw new Error('--own-servers: nats-server is not on PATH');
    mkdirSync(parentDir, { recursive: true });
    this.storeDir = mkdtempSync(join(parentDir, 'nats-'));
    const fd = openSync(logFile, 'a');
    this.server = new NatsServerProcess(
      binary,
      this.storeDir,
      port,
      (line) => void writeSync(fd, `${line}\n`),
    );
  }

  get url(): string {
    return this.server.url;
  }

  start(): Promise<void> {
    return this.server.start();
  }

  async stop(): Promise<void> {
    try {
      await this.server.stop();
    } finally {
      rmSync(this.storeDir, { recursive: true, force: true });
    }
  }
}
