import { Inject, Injectable } from '@nestjs/common';
import { conflict, Decider, notFound } from '@cronicorn/domain';
import { ConcurrencyError, EventStore, AppendResult } from '@cronicorn/event-store';
import { Event, EventEnvelope, EventMetadata, parseStreamId } from '@cronicorn/events';
import { EVENT_STORE } from '@cronicorn/platform';
import type { PoolClient } from 'pg';
import type { AuthContext } from '../auth/auth-context';
import { TransactionContext } from './transaction-context';

/** Attempts per command when another writer moved the stream in between (ConcurrencyError). */
export const COMMAND_ATTEMPTS = 3;

export interface ExecuteArgs<S, C, E extends Event> {
  streamId: string;
  decider: Decider<S, C, E>;
  /**
   * One command, or several decided in order against the evolving state and appended together.
   * Several commands on one stream in one request must come as a list: the stream is read
   * through the pool, so a second `execute` inside the same ambient transaction would not see
   * the first one's uncommitted events (and would end in a 409).
   */
  command: C | readonly C[];
  auth: AuthContext;
  correlationId: string;
  /**
   * The tenant that owns the stream. Defaults to `auth.tenantId`; the admin key must pass it
   * (a new tenant's own stream).
   */
  tenantId?: string;
  /**
   * Runs in the append's transaction after the events are written (inline tables such as
   * `api_keys`). Not called when the decision produced no events.
   */
  onAppended?: (client: PoolClient, result: AppendResult) => Promise<void>;
  /**
   * Checks what the decider cannot see (another stream) on the state read, before deciding;
   * throws to refuse the command.
   */
  guard?: (state: S) => Promise<void>;
}

export interface ExecuteResult<S> {
  envelopes: EventEnvelope[];
  /** Global position of the last appended event; null when the command changed nothing. */
  position: string | null;
  /** State after the decision. */
  state: S;
  /** Stream version after the decision. */
  version: number;
}

export interface LoadOptions {
  /** Fold only events that occurred at or before this instant. */
  asOf?: Date;
}

interface Loaded<S> {
  state: S;
  version: number;
  /** The stream exists and belongs to another tenant: treat it as absent. */
  foreign: boolean;
}

/**
 * The one way command-api changes a stream: read → tenant check → fold → decide → append with
 * the expected version, deciding again on a concurrency conflict (STYLE §4). Joins the
 * request's ambient transaction (idempotency) behind a savepoint, so a retry never leaves a
 * half-written attempt in it.
 */
@Injectable()
export class CommandExecutor {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly transactions: TransactionContext,
  ) {}

  async execute<S, C, E extends Event>(args: ExecuteArgs<S, C, E>): Promise<ExecuteResult<S>> {
    const tenantId = args.tenantId ?? args.auth.tenantId;
    if (!tenantId) throw new Error(`No tenant for a command on ${args.streamId}`);
    const commands: readonly C[] = Array.isArray(args.command) ? args.command : [args.command as C];
    const metadata: EventMetadata = {
      tenantId,
      correlationId: args.correlationId,
      causationId: args.correlationId,
      actor: args.auth.actor,
    };
    for (let attempt = 1; ; attempt++) {
      const loaded = await this.read(args.streamId, args.decider, tenantId);
      if (!loaded.foreign) await args.guard?.(loaded.state);
      let state = loaded.state;
      const events: E[] = [];
      for (const command of commands) {
        const decided = args.decider.decide(command, state);
        events.push(...decided);
        state = decided.reduce(args.decider.evolve, state);
      }
      if (events.length === 0) return { envelopes: [], position: null, state, version: loaded.version };
      // A create on an id another tenant already uses: refuse without saying whose it is.
      if (loaded.foreign) throw conflict('STREAM.ID_TAKEN', `The id of ${args.streamId} is not available`);
      try {
        const result = await this.transactions.run(async (client) => {
          const appended = await this.store.append(args.streamId, events, {
            expectedVersion: loaded.version,
            metadata,
            client,
          });
          await args.onAppended?.(client, appended);
          return appended;
        });
        return {
          envelopes: result.envelopes,
          position: result.lastPosition,
          state,
          version: result.nextExpectedVersion,
        };
      } catch (error) {
        if (!(error instanceof ConcurrencyError) || attempt >= COMMAND_ATTEMPTS) throw error;
      }
    }
  }

  /**
   * Reads and folds a stream of the caller's tenant (any tenant for the admin key). Throws
   * `notFound(notFoundCode)` when the stream is absent or another tenant's.
   */
  async load<S, E extends Event>(
    streamId: string,
    decider: Pick<Decider<S, never, E>, 'evolve' | 'initialState'>,
    auth: AuthContext,
    notFoundCode: string,
    options: LoadOptions = {},
  ): Promise<{ state: S; version: number }> {
    const loaded = await this.read(streamId, decider, auth.isAdmin ? null : auth.tenantId, options);
    if (loaded.foreign || loaded.version === 0) throw notFound(notFoundCode, `${noun(streamId)} not found`);
    return { state: loaded.state, version: loaded.version };
  }

  private async read<S, E extends Event>(
    streamId: string,
    decider: Pick<Decider<S, never, E>, 'evolve' | 'initialState'>,
    tenantId: string | null,
    options: LoadOptions = {},
  ): Promise<Loaded<S>> {
    const envelopes = await this.store.readStream(streamId, { asOf: options.asOf });
    const version = envelopes.length ? envelopes[envelopes.length - 1].streamVersion : 0;
    if (tenantId !== null && envelopes.length && envelopes[0].tenantId !== tenantId) {
      return { state: decider.initialState(), version, foreign: true };
    }
    // Envelopes are upcast by the store; their {type, data} is the event the decider knows.
    const state = envelopes.reduce((s, e) => decider.evolve(s, e as unknown as E), decider.initialState());
    return { state, version, foreign: false };
  }
}

/** `job-<id>` as the API names it elsewhere: `Job <id>`. */
function noun(streamId: string): string {
  const { category, id } = parseStreamId(streamId);
  return `${category[0].toUpperCase()}${category.slice(1)} ${id}`;
}
