import { NatsNames } from '@cronicorn/events';
import { attemptsOf, eventsFilterSubject } from './provisioning';
import type { ConsumerInfo } from '@nats-io/jetstream';

describe('Provisioning', () => {
  describe('When choosing an event filter subject', () => {
    it('should filter on the category for one category and take everything for several', () => {
      const names = new NatsNames('x');
      expect(eventsFilterSubject(names, ['run'])).toBe('x.cronicorn.events.*.run.>');
      expect(eventsFilterSubject(names, ['run', 'run'])).toBe('x.cronicorn.events.*.run.>');
      expect(eventsFilterSubject(names, ['run', 'job'])).toBe('x.cronicorn.events.>');
      expect(eventsFilterSubject(new NatsNames(), ['job'])).toBe('cronicorn.events.*.job.>');
    });
  });

  describe('When reading the attempts of a provisioned consumer', () => {
    it('should keep the spare delivery out and treat no limit as unlimited', () => {
      const info = (max_deliver: number) => ({ config: { max_deliver } }) as ConsumerInfo;
      expect(attemptsOf(info(6))).toBe(5);
      expect(attemptsOf(info(-1))).toBe(Number.POSITIVE_INFINITY);
    });
  });
});
