import { DispatchWorkItem, EventEnvelope, RunStarted } from '@cronicorn/events';
import {
  abandonedRun,
  decideDelivery,
  DeliveryFacts,
  foldRunStream,
  otherHolderSeq,
  runFinished,
  runStarted,
} from './run-delivery';

const item: DispatchWorkItem = {
  runId: 'r1',
  tenantId: 't1',
  jobId: 'j1',
  endpointId: 'e1',
  scheduledFor: '2030-01-01T00:00:00.000Z',
  trigger: 'schedule',
  retryOf: null,
  correlationId: null,
  request: {
    url: 'https://example.com/',
    method: 'GET',
    headers: {},
    secretHeaders: {},
    body: null,
    timeoutMs: 1000,
    maxAttempts: 1,
  },
  templateContext: null,
};

function envelope(version: number, type: string, data: object): EventEnvelope {
  return {
    id: `ev${version}`,
    type,
    schemaVersion: 1,
    streamId: 'run-r1',
    streamVersion: version,
    position: String(version),
    tenantId: 't1',
    occurredAt: '2030-01-01T00:00:00.000Z',
    data,
    metadata: { tenantId: 't1' },
  };
}

const started = (attempt: number, seq?: number): RunStarted['data'] => ({
  ...runStarted(item, attempt, new Date(Date.parse(item.scheduledFor) + 250 * attempt), {
    seq: seq ?? 0,
    dispatcherId: `d${attempt}`,
  }).data,
  ...(seq === undefined ? { workItemSeq: undefined } : {}),
});

function given(...events: Array<['start', number, number?] | ['finish']>) {
  return foldRunStream(
    events.map((event, i) =>
      event[0] === 'start'
        ? envelope(i + 1, 'RunStarted', started(event[1], event[2]))
        : envelope(i + 1, 'RunFinished', {}),
    ),
  );
}

const facts = (seq: number, overrides: Partial<DeliveryFacts> = {}): DeliveryFacts => ({
  seq,
  otherHolderPending: false,
  maxRunAttempts: 3,
  ...overrides,
});

describe('Run delivery', () => {
  describe('When the run stream is empty', () => {
    it('should start attempt 1 expecting version 0', () => {
      expect(decideDelivery(given(), facts(7))).toEqual({ kind: 'start', attempt: 1, expectedVersion: 0 });
    });
  });

  describe('When the run already finished', () => {
    it('should acknowledge the delivery without starting again', () => {
      expect(decideDelivery(given(['start', 1, 7], ['finish']), facts(7))).toEqual({
        kind: 'already_finished',
      });
    });

    it('should acknowledge another copy of the work item too', () => {
      expect(
        decideDelivery(given(['start', 1, 7], ['finish']), facts(9, { otherHolderPending: true })),
      ).toEqual({ kind: 'already_finished' });
    });
  });

  describe('When the run is open', () => {
    it('should take over on a redelivery of the same message (its dispatcher died)', () => {
      expect(decideDelivery(given(['start', 1, 7]), facts(7))).toEqual({
        kind: 'start',
        attempt: 2,
        expectedVersion: 1,
      });
    });

    it('should leave the run to another copy whose message is still queued', () => {
      const state = given(['start', 1, 7]);
      expect(otherHolderSeq(state, 9)).toBe(7);
      expect(decideDelivery(state, facts(9, { otherHolderPending: true }))).toEqual({
        kind: 'held_elsewhere',
        holderSeq: 7,
      });
    });

    it('should take over from another copy whose message is gone from the queue', () => {
      expect(decideDelivery(given(['start', 1, 7]), facts(9, { otherHolderPending: false }))).toEqual({
        kind: 'start',
        attempt: 2,
        expectedVersion: 1,
      });
    });

    it('should take over when the open start does not say which message began it', () => {
      const state = given(['start', 1]);
      expect(otherHolderSeq(state, 9)).toBeNull();
      expect(decideDelivery(state, facts(9, { otherHolderPending: true }))).toMatchObject({
        kind: 'start',
        attempt: 2,
      });
    });

    it('should judge by the latest start only', () => {
      const state = given(['start', 1, 7], ['start', 2, 9]);
      expect(otherHolderSeq(state, 9)).toBeNull();
      expect(otherHolderSeq(state, 7)).toBe(9);
    });

    it('should abandon the run once every allowed attempt began without finishing', () => {
      const decision = decideDelivery(given(['start', 1, 7], ['start', 2, 7], ['start', 3, 7]), facts(7));
      expect(decision).toMatchObject({ kind: 'abandon', expectedVersion: 3, lastStart: { attempt: 3 } });
    });

    it('should not abandon while attempts remain', () => {
      expect(decideDelivery(given(['start', 1, 7], ['start', 2, 7]), facts(7))).toMatchObject({
        kind: 'start',
        attempt: 3,
      });
    });
  });

  describe('Events', () => {
    it('should record lateness as startedAt − scheduledFor and the delivery that began the run', () => {
      const event = runStarted(item, 2, new Date('2030-01-01T00:00:01.500Z'), {
        seq: 42,
        dispatcherId: 'h:1',
      });
      expect(event.data).toMatchObject({ lateMs: 1500, attempt: 2, workItemSeq: 42, dispatcherId: 'h:1' });
    });

    it('should keep the start time of the attempt in RunFinished', () => {
      const event = runFinished(
        item,
        '2030-01-01T00:00:01.000Z',
        {
          status: 'success',
          httpStatus: 200,
          durationMs: 12,
          attempts: 1,
          error: null,
          response: null,
          retryAfterMs: null,
        },
        new Date('2030-01-01T00:00:01.012Z'),
      );
      expect(event.data).toMatchObject({
        runId: 'r1',
        status: 'success',
        startedAt: '2030-01-01T00:00:01.000Z',
        finishedAt: '2030-01-01T00:00:01.012Z',
      });
    });

    it('should record an abandoned run as failed without an HTTP attempt', () => {
      const event = abandonedRun(started(3, 7), 3, new Date('2030-01-01T00:01:00.000Z'));
      expect(event.data).toMatchObject({ status: 'failed', attempts: 0, httpStatus: null });
      expect(event.data.error).toContain('3 dispatcher deliveries');
    });
  });
});
