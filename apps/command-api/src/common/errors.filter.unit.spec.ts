import { BadRequestException, NotFoundException, ValidationError } from '@nestjs/common';
import { conflict, invalid, notFound } from '@cronicorn/domain';
import { ConcurrencyError } from '@cronicorn/event-store';
import { ApiError } from './api-error';
import { ErrorsFilter, RequestBodyError } from './errors.filter';
import { isDependencyUnavailable } from './unavailable';
import { CreateEndpointRequestDto } from '../endpoints/create-endpoint/create-endpoint.request.dto';
import { CreateTenantRequestDto } from '../tenants/create-tenant/create-tenant.request.dto';
import { ProposeHintRequestDto } from '../endpoints/propose-hint/propose-hint.request.dto';
import { createValidationPipe, fieldErrors } from './validation';

const filter = new ErrorsFilter();
const render = (error: unknown) => filter.render(error);

describe('ErrorsFilter', () => {
  it.each([
    [invalid('JOB.INVALID', 'bad', { name: 'must not be empty' }), 400],
    [notFound('JOB.NOT_FOUND', 'no'), 404],
    [conflict('JOB.ARCHIVED', 'archived'), 409],
  ])('should map domain error %p to its status', (error, status) => {
    const rendered = render(error);
    expect(rendered.status).toBe(status);
    expect(rendered.body.error).toBe(error.code);
  });

  it('should keep the fields of an invalid domain error', () => {
    expect(render(invalid('X', 'bad', { 'schedule.cron': 'nope' })).body.fields).toEqual({
      'schedule.cron': 'nope',
    });
  });

  it('should answer 409 to a concurrency conflict', () => {
    expect(render(new ConcurrencyError('job-1', 3, 4))).toMatchObject({
      status: 409,
      body: { error: 'CONCURRENCY_CONFLICT' },
    });
  });

  it('should pass ApiError headers through', () => {
    const rendered = render(
      new ApiError(429, 'RATE_LIMITED', 'slow down', undefined, { 'Retry-After': '3' }),
    );
    expect(rendered).toMatchObject({ status: 429, headers: { 'Retry-After': '3' } });
  });

  it('should map body-parser failures to BAD_JSON and 413', () => {
    const parse = Object.assign(new SyntaxError('Unexpected end'), {
      type: 'entity.parse.failed',
      status: 400,
    });
    const large = Object.assign(new Error('too large'), { type: 'entity.too.large', status: 413 });
    expect(render(new RequestBodyError(parse))).toMatchObject({ status: 400, body: { error: 'BAD_JSON' } });
    expect(render(new RequestBodyError(large))).toMatchObject({
      status: 413,
      body: { error: 'PAYLOAD_TOO_LARGE' },
    });
  });

  it('should tell valid JSON that is not an object or array apart from broken JSON', () => {
    const strict = (body: string) =>
      new RequestBodyError(
        Object.assign(new SyntaxError('Unexpected token'), {
          type: 'entity.parse.failed',
          status: 400,
          body,
        }),
      );
    for (const body of ['null', '"x"', '42', ' true']) {
      expect(render(strict(body))).toEqual({
        status: 400,
        body: { error: 'BAD_JSON', message: 'The body must be a JSON object' },
      });
    }
    expect(render(strict('{"name":')).body.message).toBe('The body is not valid JSON');
  });

  it('should keep Nest HTTP exceptions in the error shape', () => {
    expect(render(new NotFoundException('Cannot GET /x'))).toEqual({
      status: 404,
      body: { error: 'NOT_FOUND', message: 'Cannot GET /x' },
    });
    expect(render(new BadRequestException('nope')).status).toBe(400);
  });

  it('should answer 503 to a refused connection and 500 to anything else', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    expect(render(refused).status).toBe(503);
    expect(render(new TypeError('x is undefined')).status).toBe(500);
  });
});

describe('isDependencyUnavailable', () => {
  it.each([
    ['a refused connection', Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })],
    ['a terminated pg connection', new Error('Connection terminated unexpectedly')],
    ['a pg shutdown', Object.assign(new Error('terminating connection'), { code: '57P01' })],
    ['a pg connection exception', Object.assign(new Error('x'), { code: '08006' })],
    ['a NATS closed connection', Object.assign(new Error('closed'), { name: 'ClosedConnectionError' })],
    [
      'an AggregateError of refusals',
      new AggregateError([Object.assign(new Error('r'), { code: 'ECONNREFUSED' })]),
    ],
  ])('should recognise %s', (_name, error) => {
    expect(isDependencyUnavailable(error)).toBe(true);
  });

  it.each([
    ['a unique violation', Object.assign(new Error('dup'), { code: '23505' })],
    ['a plain bug', new TypeError('undefined is not a function')],
    ['a string', 'oops'],
  ])('should not treat %s as unavailability', (_name, error) => {
    expect(isDependencyUnavailable(error)).toBe(false);
  });
});

describe('fieldErrors', () => {
  const error = (
    property: string,
    constraints?: Record<string, string>,
    children: ValidationError[] = [],
  ): ValidationError => ({ property, constraints, children });

  it('should key nested errors by path and name unknown fields', () => {
    const errors = [
      error('schedule', undefined, [error('cron', { isString: 'cron must be a string' })]),
      error('color', { whitelistValidation: 'property color should not exist' }),
    ];
    expect(fieldErrors(errors)).toEqual({
      'schedule.cron': 'must be a string',
      color: 'is not an accepted field',
    });
  });
});

describe('createValidationPipe', () => {
  async function fieldsOf(metatype: new () => object, body: unknown): Promise<Record<string, string>> {
    const error: unknown = await createValidationPipe()
      .transform(body, { type: 'body', metatype })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(ApiError);
    return (error as ApiError).fields ?? {};
  }

  it.each([
    [
      'a number given as text',
      { kind: 'interval', intervalMs: 'abc', reason: 'r' },
      'intervalMs',
      'must be an integer number',
    ],
    [
      'a fraction below the minimum',
      { kind: 'interval', intervalMs: 0.5, reason: 'r' },
      'intervalMs',
      'must be an integer number',
    ],
    ['a missing reason', { kind: 'interval', intervalMs: 60_000 }, 'reason', 'is required: must be a string'],
    [
      'a missing kind',
      { intervalMs: 60_000, reason: 'r' },
      'kind',
      'is required: must be one of interval, one_shot, pause',
    ],
  ])('should tell the type rule for %s, not a range', async (_, body, field, message) => {
    expect((await fieldsOf(ProposeHintRequestDto, body))[field]).toBe(message);
  });

  it("should tell a nested object's own rule, not class-validator's nested check", async () => {
    const body = { name: 'n', url: 'https://example.com', schedule: 'daily' };
    expect((await fieldsOf(CreateEndpointRequestDto, body)).schedule).toBe(
      'must be an object {every, at, on?, timezone}',
    );
  });

  it('should tell a missing name it is required, not that it is too long', async () => {
    expect(await fieldsOf(CreateTenantRequestDto, {})).toEqual({ name: 'is required: must be a string' });
  });

  it('should not call a field given as null or of the wrong type required', async () => {
    expect(await fieldsOf(CreateTenantRequestDto, { name: null })).toEqual({ name: 'must be a string' });
    expect(await fieldsOf(CreateTenantRequestDto, { name: 42 })).toEqual({ name: 'must be a string' });
  });
});
