import type { IncomingMessage } from 'node:http';
import { correlationIdOf } from './logging';

const requestWith = (headers: Record<string, string | string[]>) =>
  ({ headers }) as unknown as IncomingMessage;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('Correlation id', () => {
  it('should take the caller-supplied x-correlation-id', () => {
    expect(correlationIdOf(requestWith({ 'x-correlation-id': 'order-7:retry.2' }))).toBe('order-7:retry.2');
  });

  it('should generate a uuid when the header is missing', () => {
    expect(correlationIdOf(requestWith({}))).toMatch(UUID);
  });

  it('should not trust a header that could forge log lines or grow without bound', () => {
    expect(correlationIdOf(requestWith({ 'x-correlation-id': 'a\nb' }))).toMatch(UUID);
    expect(correlationIdOf(requestWith({ 'x-correlation-id': 'x'.repeat(129) }))).toMatch(UUID);
  });
});
