import { Event } from '@cronicorn/events';
import { Decider } from '../core/decider';
import { DomainError, DomainErrorKind } from '../core/errors';

// given(events).when(command).then(events) for deciders, after EventSourcing.NodeJS's
// samples/decider specification. Uses jest's `expect`: import it from specs only.

export interface DeciderThen<E extends Event> {
  /** The command records exactly these events, in order. */
  then(expected: E | E[]): void;
  /** The command is refused with an error the predicate accepts. */
  thenThrows(predicate: (error: unknown) => boolean): void;
  /** The command has already taken effect: no events. */
  thenNothing(): void;
}

export interface DeciderGiven<Command, E extends Event> {
  when(command: Command): DeciderThen<E>;
}

export const DeciderSpecification = {
  for<State, Command, E extends Event>(decider: Decider<State, Command, E>) {
    return {
      given(events: E | E[]): DeciderGiven<Command, E> {
        const history = Array.isArray(events) ? events : [events];
        return {
          when(command: Command): DeciderThen<E> {
            const run = () => decider.decide(command, history.reduce(decider.evolve, decider.initialState()));
            return {
              then(expected) {
                expect(run()).toStrictEqual(Array.isArray(expected) ? expected : [expected]);
              },
              thenThrows(predicate) {
                let thrown: { error: unknown } | undefined;
                try {
                  run();
                } catch (error) {
                  thrown = { error };
                }
                if (!thrown) throw new Error('Expected the command to be refused, but it was accepted');
                if (!predicate(thrown.error)) {
                  throw new Error(
                    `The command was refused with an unexpected error: ${explain(thrown.error)}`,
                  );
                }
              },
              thenNothing() {
                expect(run()).toStrictEqual([]);
              },
            };
          },
        };
      },
    };
  },
};

/** A `thenThrows` predicate: a DomainError with this code (and kind, and failing fields). */
export const domainError =
  (code: string, kind?: DomainErrorKind, fields?: string[]) =>
  (error: unknown): boolean =>
    error instanceof DomainError &&
    error.code === code &&
    (kind === undefined || error.kind === kind) &&
    (fields === undefined || fields.every((field) => error.fields !== undefined && field in error.fields));

function explain(error: unknown): string {
  if (error instanceof DomainError)
    return `${error.code} (${error.kind}) ${JSON.stringify(error.fields ?? {})}`;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
