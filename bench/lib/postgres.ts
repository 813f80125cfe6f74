import type { Pool } from 'pg';
import { percentiles, Percentiles } from './stats';

// What Postgres did for the bench's database: commits, rows written per table, and a sampled
// view of what the active backends were running (pg_stat_statements is not loaded on a
// default server; sampling pg_stat_activity needs nothing).

interface Counters {
  atMs: number;
  commits: number;
  rollbacks: number;
  tables: Map<string, { ins: number; upd: number; del: number }>;
  walBytes: number | null;
  walSyncs: number | null;
}

export interface PostgresReport {
  commitsPerSecond: number;
  rollbacksPerSecond: number;
  /** Rows inserted + updated + deleted per second, by table, busiest first. */
  rowWritesPerSecond: Record<string, number>;
  /** Cluster-wide WAL (other databases on the server included). */
  walMiBPerSecond: number | null;
  walSyncsPerSecond: number | null;
  /** Share of the active-backend samples per application and statement, busiest first. */
  activeSamples: number;
  activeByApp: Record<string, number>;
  activeByStatement: Array<{ app: string; statement: string; share: number }>;
  activeByWait: Record<string, number>;
  /**
   * Connections of each app by state, averaged over the samples: a pool whose connections are
   * all `active` or `idle in transaction` makes its app queue for connections in Node.
   */
  connectionsByApp: Record<string, Record<string, number>>;
  /**
   * The oldest transaction holding an xid anywhere on the server, sampled. Commit-ordered log
   * readers (the outbox relay) cannot pass it: its age is a floor under the relay's lag.
   * `ours` / `others`: held in the bench's database / in other databases of the server.
   */
  oldestWriteTransactionMs: {
    ours: Percentiles;
    others: Percentiles;
    /** % of samples in which another database held a write transaction older than 1 s. */
    othersOver1sShare: number;
    /** Longest holders seen, by database kind and application. */
    holders: Array<{ where: 'ours' | 'others'; app: string; maxAgeMs: number }>;
  };
}

async function counters(pool: Pool): Promise<Counters> {
  const db = await pool.query<{ commits: string; rollbacks: string }>(
    `SELECT xact_commit::text AS commits, xact_rollback::text AS rollbacks
       FROM pg_stat_database WHERE datname = current_database()`,
  );
  const tables = await pool.query<{ relname: string; ins: string; upd: string; del: string }>(
    `SELECT relname, n_tup_ins::text AS ins, n_tup_upd::text AS upd, n_tup_del::text AS del FROM pg_stat_user_tables`,
  );
  let walBytes: number | null = null;
  let walSyncs: number | null = null;
  try {
    const wal = await pool.query<{ bytes: string; syncs: string }>(
      'SELECT wal_bytes::text AS bytes, wal_sync::text AS syncs FROM pg_stat_wal',
    );
    walBytes = Number(wal.rows[0]?.bytes);
    walSyncs = Number(wal.rows[0]?.syncs);
  } catch {
    // pg_stat_wal exists from Postgres 14
  }
  return {
    atMs: Date.now(),
    commits: Number(db.rows[0]?.commits ?? 0),
    rollbacks: Number(db.rows[0]?.rollbacks ?? 0),
    tables: new Map(
      tables.rows.map((row) => [
        row.relname,
        { ins: Number(row.ins), upd: Number(row.upd), del: Number(row.del) },
      ]),
    ),
    walBytes,
    walSyncs,
  };
}

/** Collapses literals so that the same statement with other values counts once. */
export function normaliseStatement(query: string): string {
  return query
    .replace(/\s+/g, ' ')
    .replace(/'(?:[^']|'')*'/g, '?')
    .replace(/\b\d+\b/g, '?')
    .trim()
    .slice(0, 120);
}

export class PostgresSampler {
  private from: Counters | null = null;
  private to: Counters | null = null;
  private timer: NodeJS.Timeout | null = null;
  private samples = 0;
  private readonly byApp = new Map<string, number>();
  private readonly byStatement = new Map<string, number>();
  private readonly byWait = new Map<string, number>();
  private busy = false;
  private xidSamples = 0;
  private readonly oldest = { ours: [] as number[], others: [] as number[] };
  private othersOver1s = 0;
  private readonly holders = new Map<string, number>();
  private readonly connections = new Map<string, Map<string, number>>();
  private connectionSamples = 0;

  constructor(
    private readonly pool: Pool,
    private readonly everyMs = 250,
  ) {}

  /** Takes the opening counters and starts sampling active backends. */
  async start(): Promise<void> {
    this.from = await counters(this.pool);
    this.timer = setInterval(() => void this.sample(), this.everyMs);
  }

  /** Takes the closing counters. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.to = await counters(this.pool);
  }

  private async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const { rows } = await this.pool.query<{
        app: string;
        query: string;
        wait: string | null;
      }>(
        `SELECT application_name AS app, query, wait_event_type || ':' || wait_event AS wait
           FROM pg_stat_activity
          WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()`,
      );
      for (const row of rows) {
        this.samples += 1;
        const app = row.app || '(unnamed)';
        const key = `${app}\u0000${normaliseStatement(row.query)}`;
        this.byApp.set(app, (this.byApp.get(app) ?? 0) + 1);
        this.byStatement.set(key, (this.byStatement.get(key) ?? 0) + 1);
        const wait = row.wait ?? 'CPU (no wait event)';
        this.byWait.set(wait, (this.byWait.get(wait) ?? 0) + 1);
      }
      const { rows: states } = await this.pool.query<{ app: string; state: string; n: number }>(
        `SELECT application_name AS app, COALESCE(state, 'unknown') AS state, count(*)::int AS n
           FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
          GROUP BY 1, 2`,
      );
      this.connectionSamples += 1;
      for (const row of states) {
        const app = row.app || '(unnamed)';
        const byState = this.connections.get(app) ?? new Map<string, number>();
        byState.set(row.state, (byState.get(row.state) ?? 0) + row.n);
        this.connections.set(app, byState);
      }
      const { rows: holders } = await this.pool.query<{ ours: boolean; app: string; age_ms: number }>(
        `SELECT datname = current_database() AS ours, application_name AS app,
                (extract(epoch FROM clock_timestamp() - xact_start) * 1000)::float8 AS age_ms
           FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND xact_start IS NOT NULL`,
      );
      this.xidSamples += 1;
      const oldestOf = (ours: boolean) =>
        Math.max(0, ...holders.filter((row) => row.ours === ours).map((row) => row.age_ms));
      this.oldest.ours.push(Math.round(oldestOf(true)));
      this.oldest.others.push(Math.round(oldestOf(false)));
      if (oldestOf(false) > 1_000) this.othersOver1s += 1;
      for (const row of holders) {
        const key = `${row.ours ? 'ours' : 'others'}\u0000${row.app || '(unnamed)'}`;
        this.holders.set(key, Math.max(this.holders.get(key) ?? 0, Math.round(row.age_ms)));
      }
    } catch {
      // a missed sample changes nothing
    } finally {
      this.busy = false;
    }
  }

  report(): PostgresReport | null {
    const { from, to } = this;
    if (!from || !to || to.atMs <= from.atMs) return null;
    const seconds = (to.atMs - from.atMs) / 1000;
    const rate = (value: number) => Math.round((value / seconds) * 10) / 10;
    const writes: Array<[string, number]> = [];
    for (const [table, end] of to.tables) {
      const start = from.tables.get(table) ?? { ins: 0, upd: 0, del: 0 };
      const total = end.ins - start.ins + (end.upd - start.upd) + (end.del - start.del);
      if (total > 0) writes.push([table, rate(total)]);
    }
    writes.sort((a, b) => b[1] - a[1]);
    const share = (n: number) => (this.samples ? Math.round((n / this.samples) * 1000) / 10 : 0);
    const sorted = (map: Map<string, number>) => [...map.entries()].sort((a, b) => b[1] - a[1]);
    return {
      commitsPerSecond: rate(to.commits - from.commits),
      rollbacksPerSecond: rate(to.rollbacks - from.rollbacks),
      rowWritesPerSecond: Object.fromEntries(writes),
      walMiBPerSecond:
        from.walBytes !== null && to.walBytes !== null ? rate((to.walBytes - from.walBytes) / 2 ** 20) : null,
      walSyncsPerSecond:
        from.walSyncs !== null && to.walSyncs !== null ? rate(to.walSyncs - from.walSyncs) : null,
      activeSamples: this.samples,
      activeByApp: Object.fromEntries(sorted(this.byApp).map(([app, n]) => [app, share(n)])),
      activeByStatement: sorted(this.byStatement)
        .slice(0, 15)
        .map(([key, n]) => {
          const [app, statement] = key.split('\u0000');
          return { app, statement, share: share(n) };
        }),
      activeByWait: Object.fromEntries(sorted(this.byWait).map(([wait, n]) => [wait, share(n)])),
      connectionsByApp: Object.fromEntries(
        [...this.connections.entries()].map(([app, byState]) => [
          app,
          Object.fromEntries(
            [...byState.entries()].map(([state, n]) => [
              state,
              Math.round((n / Math.max(1, this.connectionSamples)) * 10) / 10,
            ]),
          ),
        ]),
      ),
      oldestWriteTransactionMs: {
        ours: percentiles(this.oldest.ours),
        others: percentiles(this.oldest.others),
        othersOver1sShare: this.xidSamples
          ? Math.round((this.othersOver1s / this.xidSamples) * 1000) / 10
          : 0,
        holders: sorted(this.holders)
          .slice(0, 10)
          .map(([key, maxAgeMs]) => {
            const [where, app] = key.split('\u0000');
            return { where: where as 'ours' | 'others', app, maxAgeMs };
          }),
      },
    };
  }
}

type VacuumBy = 'server' | 'bench' | 'none';

export interface VacuumReport {
  /** `server`: autovacuum is on and left to it; `bench`: it is off, the bench vacuums instead; `none`: neither. */
  by: VacuumBy;
  intervalS: number;
  runs: number;
  tablesVacuumed: number;
  durationMs: Percentiles;
}

/**
 * Stands in for autovacuum when the server runs without it (CI configurations turn it off): every
 * `intervalS` (the naptime docs/operations.md asks for), vacuums and analyses the bench database's
 * tables that autovacuum would pick (ADR 0016), on the bench's own connection so its CPU counts as
 * the database's. Without it, the scheduler's hot rows pile up dead versions through the window
 * and every read of them walks the pile: a cost production does not pay.
 */
export class StandInVacuum {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private readonly durationsMs: number[] = [];
  private tablesVacuumed = 0;

  private constructor(
    private readonly pool: Pool,
    readonly by: VacuumBy,
    readonly intervalS: number,
  ) {}

  static async create(pool: Pool, intervalS: number): Promise<StandInVacuum> {
    const { rows } = await pool.query<{ on: boolean }>("SELECT current_setting('autovacuum') = 'on' AS on");
    return new StandInVacuum(pool, rows[0].on ? 'server' : intervalS > 0 ? 'bench' : 'none', intervalS);
  }

  start(onError: (error: Error) => void): void {
    if (this.by !== 'bench' || this.timer) return;
    this.timer = setInterval(() => {
      if (!this.running)
        this.running = this.vacuumDue()
          .catch(onError)
          .finally(() => (this.running = null));
    }, this.intervalS * 1000);
  }

  /**
   * Autovacuum's choice, with each table's own settings where it has them (the defaults
   * otherwise): dead rows over threshold + scale factor × rows, rows inserted since the last
   * vacuum over 1000 + 20 %, rows changed since the last analyse over 50 + 10 %.
   */
  private async vacuumDue(): Promise<void> {
    const { rows } = await this.pool.query<{ name: string; needs_vacuum: boolean }>(
      `WITH t AS (
         SELECT format('%I.%I', s.schemaname, s.relname) AS name, s.n_dead_tup, s.n_ins_since_vacuum,
                s.n_mod_since_analyze, greatest(c.reltuples, 0) AS reltuples,
                (SELECT option_value::float8 FROM pg_options_to_table(c.reloptions)
                  WHERE option_name = 'autovacuum_vacuum_threshold') AS threshold,
                (SELECT option_value::float8 FROM pg_options_to_table(c.reloptions)
                  WHERE option_name = 'autovacuum_vacuum_scale_factor') AS scale
           FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid),
       due AS (
         SELECT name,
                n_dead_tup > coalesce(threshold, 50) + coalesce(scale, 0.2) * reltuples
                  OR n_ins_since_vacuum > 1000 + 0.2 * reltuples AS needs_vacuum,
                n_mod_since_analyze > 50 + 0.1 * reltuples AS needs_analyze
           FROM t)
       SELECT name, needs_vacuum FROM due WHERE needs_vacuum OR needs_analyze`,
    );
    if (rows.length === 0) return;
    const startedAt = Date.now();
    const names = (vacuum: boolean) =>
      rows.filter((row) => row.needs_vacuum === vacuum).map((row) => row.name);
    if (names(true).length) await this.pool.query(`VACUUM (ANALYZE) ${names(true).join(', ')}`);
    if (names(false).length) await this.pool.query(`ANALYZE ${names(false).join(', ')}`);
    this.durationsMs.push(Date.now() - startedAt);
    this.tablesVacuumed += names(true).length;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  report(): VacuumReport {
    return {
      by: this.by,
      intervalS: this.intervalS,
      runs: this.durationsMs.length,
      tablesVacuumed: this.tablesVacuumed,
      durationMs: percentiles(this.durationsMs),
    };
  }
}
