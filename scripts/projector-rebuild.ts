// `npm run projector:rebuild`: empties the read models and replays the whole event log into
// them. Safe while the apps run: the live projector is asked to step down and stands by until
// the rebuild ends, then continues from where the rebuild stopped. Exits 2 when a projector
// does not let go of the lock in time (PROJECTOR_REBUILD_LOCK_WAIT_MS, default 30 s).
import { PostgresEventStore } from '@cronicorn/event-store';
import {
  ConfigError,
  createPool,
  ensureDatabase,
  integerFrom,
  loadConfig,
  redactUrl,
  runMigrations,
} from '@cronicorn/platform';
import { ProjectorLockBusyError, rebuildReadModels, RebuildProgress } from '@cronicorn/read-models';

const PROGRESS_EVERY_MS = 1_000;

const format = (n: number) => n.toLocaleString('en-US');

function progressLine({ done, total, eventsPerSecond }: RebuildProgress): string {
  const percent = total > 0 ? ((100 * done) / total).toFixed(1) : '100.0';
  return `projector:rebuild ${format(done)}/${format(total)} events (${percent}%), ${format(eventsPerSecond)} events/s`;
}

async function main(): Promise<number> {
  const config = loadConfig('projector');
  const lockWaitMs = integerFrom(process.env, 'PROJECTOR_REBUILD_LOCK_WAIT_MS', 30_000, { min: 1 });
  console.log(`projector:rebuild on ${redactUrl(config.databaseUrl)}`);
  await ensureDatabase(config.databaseUrl);
  const pool = createPool(config.databaseUrl, { max: 4, applicationName: 'cronicorn-projector-rebuild' });
  try {
    await runMigrations(pool, undefined, (message) => console.log(message));
    let lastPrint = 0;
    const summary = await rebuildReadModels({
      pool,
      store: new PostgresEventStore(pool),
      lockWaitMs,
      onLog: (message) => console.log(`projector:rebuild ${message}`),
      onProgress: (progress) => {
        if (Date.now() - lastPrint < PROGRESS_EVERY_MS) return;
        lastPrint = Date.now();
        console.log(progressLine(progress));
      },
    });
    const rows = Object.entries(summary.rows)
      .map(([table, count]) => `${table}=${format(count)}`)
      .join(' ');
    console.log(
      `projector:rebuild done: ${format(summary.events)} events (${format(summary.applied)} applied) in ` +
        `${(summary.elapsedMs / 1000).toFixed(1)} s, ${format(summary.eventsPerSecond)} events/s; ${rows}; ` +
        `projector resumes after position ${summary.checkpoint.position}`,
    );
    return 0;
  } catch (error) {
    if (error instanceof ProjectorLockBusyError) {
      console.error(`projector:rebuild refused: ${error.message}`);
      return 2;
    }
    throw error;
  } finally {
    await pool.end();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    // A bad variable is the operator's to fix: its message names it, a stack would bury it.
    const detail =
      error instanceof ConfigError
        ? error.message
        : error instanceof Error
          ? (error.stack ?? error.message)
          : String(error);
    console.error(`projector:rebuild failed: ${detail}`);
    process.exit(1);
  },
);
