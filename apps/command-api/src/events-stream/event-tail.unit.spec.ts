import type { EventEnvelope } from '@cronicorn/events';
import type { LogCheckpoint, ReadAllOptions, ReadAllResult } from '@cronicorn/event-store';
import { silentLogger, Wakeup } from '@cronicorn/messaging';
import { EventTail, EventTailOptions } from './event-tail';
import { sseComment, sseEvent } from './sse';

const envelope = (position: number, tenantId = 't1'): EventEnvelope => ({
  id: `e${position}`,
  type: 'RunFinished',
  schemaVersion: 1,
  streamId: `run-${position}`,
  streamVersion: 1,
  position: String(position),
  tenantId,
  occurredAt: '2025-03-10T12:00:00.000Z',
  data: { text: 'two\nlines' },
  metadata: { tenantId },
});

/** A log in memory: each entry's checkpoint is (position, position). */
class MemoryLog {
  readonly events: EventEnvelope[] = [];
  readonly reads: LogCheckpoint[] = [];

  async readAll(after: LogCheckpoint, options: ReadAllOptions = {}): Promise<ReadAllResult> {
    this.reads.push(after);
    const matching = this.events.filter(
      (e) =>
        BigInt(e.position) > BigInt(after.position) && (!options.tenantId || e.tenantId === options.tenantId),
    );
    const page = matching.slice(0, options.limit ?? 500);
    const last = page.length ? page[page.length - 1].position : after.position;
    return {
      events: page,
      checkpoint: { transactionId: last, position: last },
      more: page.length < matching.length,
    };
  }
}

/** A tail of tenant `t1` from the start that polls every minute; `options` override. */
const tailOf = (options: Partial<EventTailOptions> & Pick<EventTailOptions, 'write' | 'signal'>) =>
  new EventTail({
    store: new MemoryLog(),
    tenantId: 't1',
    from: { transactionId: '0', position: '0' },
    wakeup: new Wakeup(),
    pollMs: () => 60_000,
    heartbeatMs: 15_000,
    batchSize: 10,
    logger: silentLogger,
    ...options,
  });

describe('SSE framing', () => {
  it('should put the position in id, the type in event and the envelope on one data line', () => {
    const frame = sseEvent(envelope(7));
    const lines = frame.split('\n');
    expect(lines.slice(0, 2)).toEqual(['id: 7', 'event: RunFinished']);
    expect(lines[2].startsWith('data: ')).toBe(true);
    expect(JSON.parse(lines[2].slice('data: '.length))).toEqual(envelope(7));
    expect(frame.endsWith('\n\n')).toBe(true);
    expect(lines).toHaveLength(5);
  });

  it('should keep a comment on one line', () => {
    expect(sseComment('a\nb')).toBe(': a b\n\n');
  });
});

describe('EventTail', () => {
  afterEach(() => jest.useRealTimers());

  it('should send the tenant events after the checkpoint in pages, then wait, then send new ones', async () => {
    const log = new MemoryLog();
    log.events.push(envelope(1), envelope(2, 'other'), envelope(3), envelope(4), envelope(5));
    const frames: string[] = [];
    const wakeup = new Wakeup();
    const controller = new AbortController();
    let waitingForMore: () => void = () => undefined;
    const tail = tailOf({
      store: log,
      from: { transactionId: '1', position: '1' },
      write: async (frame) => {
        frames.push(frame);
        if (frames.length === 3) waitingForMore();
        if (frames.length === 4) controller.abort();
      },
      signal: controller.signal,
      wakeup,
      heartbeatMs: 60_000,
      batchSize: 2,
    });
    const sentFirst = new Promise<void>((resolve) => (waitingForMore = resolve));
    const running = tail.run();
    await sentFirst;
    log.events.push(envelope(6, 'other'), envelope(7));
    wakeup.wake();
    await running;
    expect(frames).toEqual([
      sseEvent(envelope(3)),
      sseEvent(envelope(4)),
      sseEvent(envelope(5)),
      sseEvent(envelope(7)),
    ]);
  });

  it('should send a heartbeat comment while nothing happens', async () => {
    jest.useFakeTimers({ now: new Date('2025-03-10T12:00:00.000Z') });
    const frames: string[] = [];
    const controller = new AbortController();
    const tail = tailOf({ write: async (frame) => void frames.push(frame), signal: controller.signal });
    const running = tail.run();
    await jest.advanceTimersByTimeAsync(31_000);
    controller.abort();
    await running;
    expect(frames).toEqual([sseComment('heartbeat'), sseComment('heartbeat')]);
  });

  it('should not pile heartbeats up behind a write the client does not take', async () => {
    jest.useFakeTimers({ now: new Date('2025-03-10T12:00:00.000Z') });
    const log = new MemoryLog();
    log.events.push(envelope(1));
    const frames: string[] = [];
    const controller = new AbortController();
    const tail = tailOf({
      store: log,
      // The client stopped reading: the first write never drains.
      write: (frame) => {
        frames.push(frame);
        return new Promise<void>((resolve) => controller.signal.addEventListener('abort', () => resolve()));
      },
      signal: controller.signal,
    });
    const running = tail.run();
    await jest.advanceTimersByTimeAsync(10 * 60_000);
    controller.abort();
    await running;
    expect(frames).toEqual([sseEvent(envelope(1))]);
  });
});
