import { ArgumentMetadata } from '@nestjs/common';
import { DomainError } from '@cronicorn/domain';
import { ApiError } from '../common/api-error';
import { createValidationPipe } from '../common/validation';
import { CreateEndpointRequestDto } from './create-endpoint/create-endpoint.request.dto';
import { changesFromUpdate, configFromCreate, hintFromBody, withRestFields } from './endpoint-input.mapper';
import { ProposeHintRequestDto } from './propose-hint/propose-hint.request.dto';
import { UpdateEndpointRequestDto } from './update-endpoint/update-endpoint.request.dto';

const pipe = createValidationPipe();
const encrypt = (values: Record<string, string>) =>
  Object.fromEntries(
    Object.entries(values).map(([k, v]) => [k, `enc:v1:${Buffer.from(v).toString('base64url')}`]),
  );

async function parse<T>(metatype: new () => T, body: unknown): Promise<T> {
  const metadata: ArgumentMetadata = { type: 'body', metatype };
  return (await pipe.transform(body, metadata)) as T;
}

async function fieldsOf(metatype: new () => object, body: unknown): Promise<Record<string, string>> {
  try {
    await parse(metatype, body);
  } catch (error) {
    if (error instanceof ApiError) return error.fields ?? {};
    throw error;
  }
  throw new Error('expected a validation error');
}

const valid = { name: 'Ping', url: 'https://example.com/ping', intervalMs: 60_000 };

describe('Endpoint requests', () => {
  describe('When the body is well formed', () => {
    it('should fill the defaults and encrypt secret headers', async () => {
      const dto = await parse(CreateEndpointRequestDto, {
        ...valid,
        headers: { 'x-team': 'ops' },
        secretHeaders: { authorization: 'Bearer s3cret' },
        body: { nested: { list: [1, 'two', null] } },
      });
      const config = configFromCreate(dto, encrypt);
      expect(config).toMatchObject({
        name: 'Ping',
        method: 'GET',
        schedule: { kind: 'interval', intervalMs: 60_000 },
        headers: { 'x-team': 'ops' },
        body: { nested: { list: [1, 'two', null] } },
        catchUp: 'once',
        overlap: 'skip',
      });
      expect(config.secretHeaders.authorization).toMatch(/^enc:v1:/);
    });

    it('should give a cron without a zone the UTC zone', async () => {
      const dto = await parse(CreateEndpointRequestDto, {
        name: 'n',
        url: 'http://localhost:8080',
        cron: '*/5 * * * *',
      });
      expect(configFromCreate(dto, encrypt).schedule).toEqual({
        kind: 'cron',
        cron: '*/5 * * * *',
        timezone: 'UTC',
      });
    });

    it('should keep only the fields a PATCH sets, and null for the ones it clears', async () => {
      const dto = await parse(UpdateEndpointRequestDto, { maxRuns: null, timezone: 'Europe/Berlin' });
      expect(changesFromUpdate(dto, encrypt)).toEqual({
        maxRuns: null,
        schedule: { kind: 'cron', cron: undefined, timezone: 'Europe/Berlin' },
      });
    });
  });

  describe('When a field is wrong', () => {
    it.each([
      [{ ...valid, url: 'ftp://example.com' }, 'url'],
      [{ ...valid, name: '\u200B\u200D' }, 'name'],
      [{ ...valid, name: 'a\uD800b' }, 'name'],
      [{ ...valid, method: 'get' }, 'method'],
      [{ ...valid, headers: { 'bad header': 'x' } }, 'headers'],
      [{ ...valid, headers: { a: 1 } }, 'headers'],
      [{ ...valid, body: { text: 'nul\u0000' } }, 'body'],
      [{ ...valid, timeoutMs: 0 }, 'timeoutMs'],
      [{ ...valid, intervalMs: 999 }, 'intervalMs'],
      [{ ...valid, intervalMs: Number.MAX_SAFE_INTEGER }, 'intervalMs'],
      [{ ...valid, maxIntervalMs: Number.MAX_SAFE_INTEGER }, 'maxIntervalMs'],
      [{ ...valid, runAt: '2030-02-30T00:00:00Z', intervalMs: undefined }, 'runAt'],
      [{ ...valid, startAt: '2030-01-01T00:00:00' }, 'startAt'],
      [{ ...valid, timezone: 'Mars/Olympus' }, 'timezone'],
      [{ ...valid, triggers: ['Upper'] }, 'triggers'],
      [{ ...valid, maxAttempts: 11 }, 'maxAttempts'],
      [{ ...valid, name: null }, 'name'],
      [{ ...valid, surprise: true }, 'surprise'],
    ])('should name the field of %j', async (body, field) => {
      expect(Object.keys(await fieldsOf(CreateEndpointRequestDto, body))).toContain(field);
    });

    it('should name every schedule field when there are several', async () => {
      const dto = await parse(CreateEndpointRequestDto, { ...valid, cron: '* * * * *' });
      const error = catchError(() => configFromCreate(dto, encrypt));
      expect(Object.keys(error.fields ?? {}).sort()).toEqual(['cron', 'intervalMs']);
    });

    it('should name the schedule fields when there is none', async () => {
      const dto = await parse(CreateEndpointRequestDto, { name: 'n', url: 'https://example.com' });
      const error = catchError(() => configFromCreate(dto, encrypt));
      expect(Object.keys(error.fields ?? {}).sort()).toEqual(['cron', 'intervalMs', 'runAt', 'schedule']);
    });

    it('should rename the decider fields to the body fields', () => {
      const error = catchError(() =>
        withRestFields(() => {
          throw new DomainError('ENDPOINT.INVALID_CONFIG', 'Invalid: schedule.cron', 'invalid', {
            'schedule.cron': 'bad',
          });
        }),
      );
      expect(error.fields).toEqual({ cron: 'bad' });
      expect(error.message).toBe('Invalid: cron');
    });
  });

  describe('When a hint is proposed', () => {
    it('should take the value from the field of its kind', async () => {
      const dto = await parse(ProposeHintRequestDto, {
        kind: 'one_shot',
        at: '2030-01-01T00:00:00Z',
        reason: 'check',
      });
      expect(hintFromBody(dto)).toEqual({
        kind: 'one_shot',
        value: '2030-01-01T00:00:00Z',
        reason: 'check',
        source: 'api',
      });
    });

    it('should refuse the value field of another kind', async () => {
      const dto = await parse(ProposeHintRequestDto, {
        kind: 'interval',
        until: '2030-01-01T00:00:00Z',
        reason: 'x',
      });
      const error = catchError(() => hintFromBody(dto));
      expect(error.fields).toEqual({
        intervalMs: 'required for kind interval',
        until: 'only for kind pause',
      });
    });
  });
});

function catchError(fn: () => unknown): DomainError {
  try {
    fn();
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error('expected a DomainError');
}
