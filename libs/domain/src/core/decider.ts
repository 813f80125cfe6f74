import { Event } from '@cronicorn/events';

/**
 * A decider (Jérémie Chassaing's pattern): pure functions from a command and the current
 * state to the events that record the decision, and from an event to the next state.
 */
export interface Decider<State, Command, E extends Event> {
  decide(command: Command, state: State): E[];
  evolve(state: State, event: E): State;
  initialState(): State;
}

/** Folds a stream's events into the decider's state. */
export function fold<State, E extends Event>(
  decider: Pick<Decider<State, never, E>, 'evolve' | 'initialState'>,
  events: readonly E[],
): State {
  return events.reduce(decider.evolve, decider.initialState());
}
