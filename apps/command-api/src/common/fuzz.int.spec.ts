import { randomUUID } from 'node:crypto';
import { startApi, TestApi } from '../../test/harness';

/**
 * Schema-driven fuzzing of every operation the OpenAPI document (`/docs-json`) lists: hostile
 * bodies, path parameters, query parameters and headers. The standard (DESIGN §6): bad input
 * gets a 4xx, never a 5xx; a 400 is `{ error, message, fields? }` naming the offending field;
 * and a refused request writes no event. The inputs are fixed tables plus values drawn from a
 * seeded generator, so every run sends the same requests.
 */

/** Change it to explore other inputs; keep it fixed in the suite so every run sends the same requests. */
const SEED = 20_260_101;

/** mulberry32: a small deterministic generator. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const TRICKY_CHARS = [
  '\u0000',
  '\ud800',
  '\udfff',
  '\ud83d\ude00',
  '\u202e',
  '\ufeff',
  '\uffff',
  '%',
  '\\',
  '"',
  "'",
  '{',
  '}',
  '<',
  '>',
  '\n',
  '\r',
  '\t',
  ' ',
  'a',
  'Z',
  '0',
  '9',
  '-',
  '.',
  '/',
  ':',
  '@',
  'é',
  '*',
];

/** A hostile value as raw JSON text (so `1e999`, which parses to Infinity, can be sent). */
interface Hostile {
  label: string;
  json: string;
}

const nested = (depth: number, open: string, close: string, leaf: string) =>
  `${open.repeat(depth)}${leaf}${close.repeat(depth)}`;

const FIXED_VALUES: Hostile[] = [
  { label: 'string', json: '"abc"' },
  { label: 'number', json: '42' },
  { label: 'array', json: '[1,"a"]' },
  { label: 'empty array', json: '[]' },
  { label: 'object', json: '{"a":1}' },
  { label: 'empty object', json: '{}' },
  { label: 'null', json: 'null' },
  { label: 'true', json: 'true' },
  { label: 'false', json: 'false' },
  { label: '1e308', json: '1e308' },
  { label: '1e999 (Infinity)', json: '1e999' },
  { label: '-1e999 (-Infinity)', json: '-1e999' },
  { label: '-1', json: '-1' },
  { label: '-0', json: '-0' },
  { label: '0', json: '0' },
  { label: '0.5', json: '0.5' },
  { label: '1e-400', json: '1e-400' },
  { label: '2**53+1', json: '9007199254740993' },
  { label: '2**64', json: '18446744073709551616' },
  { label: '"NaN"', json: '"NaN"' },
  { label: '"Infinity"', json: '"Infinity"' },
  { label: '"-1"', json: '"-1"' },
  { label: '"1e308"', json: '"1e308"' },
  { label: '"0x10"', json: '"0x10"' },
  { label: 'empty string', json: '""' },
  { label: 'blank string', json: '"   "' },
  { label: '100 KB string', json: JSON.stringify('x'.repeat(100 * 1024)) },
  { label: 'NUL in a string', json: '"a\\u0000b"' },
  { label: 'lone high surrogate', json: '"a\\ud800b"' },
  { label: 'lone low surrogate', json: '"\\udfff"' },
  { label: 'far-future date', json: '"+275760-09-13T00:00:00.000Z"' },
  { label: 'date without offset', json: '"2030-01-01T00:00:00"' },
  { label: 'object 50 deep', json: nested(50, '{"a":', '}', '1') },
  { label: 'array 50 deep', json: nested(50, '[', ']', '1') },
  { label: 'array of null', json: '[null]' },
  { label: 'array of objects', json: '[{"a":1}]' },
  { label: 'array of NUL strings', json: '["a\\u0000"]' },
  { label: 'array of lone surrogates', json: '["\\ud800"]' },
  { label: 'map to number', json: '{"x-a":1}' },
  { label: 'map to null', json: '{"x-a":null}' },
  { label: 'map with empty key', json: '{"":"v"}' },
  { label: 'map with NUL key', json: '{"a\\u0000":"v"}' },
  { label: 'map with surrogate key', json: '{"\\ud800":"v"}' },
  { label: 'map with NUL value', json: '{"x-a":"a\\u0000"}' },
  { label: 'map with surrogate value', json: '{"x-a":"\\udfff"}' },
];

function seededValues(random: () => number, count: number): Hostile[] {
  const values: Hostile[] = [];
  for (let i = 0; i < count; i++) {
    const length = 1 + Math.floor(random() * 24);
    let text = '';
    for (let j = 0; j < length; j++) text += TRICKY_CHARS[Math.floor(random() * TRICKY_CHARS.length)];
    values.push({ label: `seeded string ${JSON.stringify(text)}`, json: JSON.stringify(text) });
    const number = (random() - 0.5) * 10 ** Math.floor(random() * 40 - 10);
    values.push({ label: `seeded number ${number}`, json: String(number) });
  }
  return values;
}

/** Query and path values: already URL-encoded. */
const PATH_VALUES: [string, string][] = [
  ['not a uuid', 'not-a-uuid'],
  ['number', '1'],
  ['uuid of nothing', '00000000-0000-4000-8000-000000000000'],
  ['nil uuid', '00000000-0000-0000-0000-000000000000'],
  ['upper-case uuid of nothing', 'ABCDEF01-2345-4678-89AB-CDEF01234567'],
  ['uuid with braces', '%7B00000000-0000-4000-8000-000000000000%7D'],
  ['4000 chars', 'a'.repeat(4000)],
  ['NUL', 'a%00b'],
  ['lone surrogate (bad UTF-8)', '%ED%A0%80'],
  ['malformed percent-encoding', '%E0%A4%A'],
  ['lone percent', '%'],
  ['SQL', "'%20OR%201%3D1--"],
  ['encoded slash', 'a%2Fb'],
  ['dot dot', '..%2F..'],
];

const QUERY_VALUES: [string, string][] = [
  ['string', 'abc'],
  ['empty', ''],
  ['-1', '-1'],
  ['0', '0'],
  ['1e308', '1e308'],
  ['NaN', 'NaN'],
  ['Infinity', 'Infinity'],
  ['2**53+1', '9007199254740993'],
  ['2**64', '18446744073709551616'],
  ['decimal', '1.5'],
  ['hex', '0x10'],
  ['true', 'true'],
  ['NUL', 'a%00b'],
  ['lone surrogate (bad UTF-8)', '%ED%A0%80'],
  ['malformed percent-encoding', '%E0%A4%A'],
  ['4000 chars', 'x'.repeat(4000)],
  ['uuid of nothing', '00000000-0000-4000-8000-000000000000'],
  ['far-future date', '%2B275760-09-13T00%3A00%3A00.000Z'],
  ['date without offset', '2030-01-01T00%3A00%3A00'],
];

/** Shapes of a query parameter: `{p}` stands for the name, `{v}` for an encoded value. */
const QUERY_SHAPES: [string, string][] = [
  ['repeated', '{p}=1&{p}=2'],
  ['array brackets', '{p}[]=1'],
  ['object brackets', '{p}[a]=1'],
  ['deep brackets', `{p}${'[a]'.repeat(30)}=1`],
  ['indexed', '{p}[0]=1&{p}[1]=x'],
  ['large index', '{p}[999999]=1'],
  ['name only', '{p}'],
  ['__proto__ key', '{p}[__proto__][x]=1'],
];

const HEADER_VALUES: Record<string, [string, string][]> = {
  'x-min-position': [
    ['string', 'abc'],
    ['-1', '-1'],
    ['1e308', '1e308'],
    ['decimal', '1.5'],
    ['2**64', '18446744073709551616'],
    ['empty', ''],
    ['repeated', '1, 2'],
  ],
  'idempotency-key': [
    ['empty', ''],
    ['1000 chars', 'k'.repeat(1000)],
    ['latin-1', 'cl\u00e9'],
    ['control chars', 'a\tb'],
    ['repeated', 'a, b'],
  ],
  'last-event-id': [
    ['string', 'abc'],
    ['-1', '-1'],
    ['2**64', '18446744073709551616'],
    ['empty', ''],
  ],
};

type Schema = {
  $ref?: string;
  type?: string;
  properties?: Record<string, Schema>;
  allOf?: Schema[];
  required?: string[];
  example?: unknown;
};

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
}

interface Operation {
  method: string;
  /** OpenAPI template, e.g. `/v1/jobs/{id}`. */
  path: string;
  parameters: Parameter[];
  body?: Schema;
}

interface Case {
  operation: Operation;
  /** What is hostile, printed on failure. */
  input: string;
  url: string;
  rawBody?: string;
  headers?: Record<string, string>;
  /** A 400 must name it (in `fields` or the message); none for a body that is not an object. */
  field?: string;
}

interface Answer {
  status: number;
  body: unknown;
}

describe('Fuzzing every route of the OpenAPI document', () => {
  let api: TestApi;
  let apiKey: string;
  let operations: Operation[];
  let schemas: Record<string, Schema>;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    api = await startApi({ env: { API_RATE_LIMIT_PER_SECOND: '0', API_MIN_POSITION_TIMEOUT_MS: '100' } });
    ({ apiKey } = await api.createTenant());
    const doc = (await (await fetch(`${api.url}/docs-json`)).json()) as {
      paths: Record<string, Record<string, { parameters?: Parameter[]; requestBody?: unknown }>>;
      components: { schemas: Record<string, Schema> };
    };
    schemas = doc.components.schemas;
    operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({
        method: method.toUpperCase(),
        path,
        parameters: op.parameters ?? [],
        body: (op.requestBody as { content?: Record<string, { schema?: Schema }> } | undefined)?.content?.[
          'application/json'
        ]?.schema,
      })),
    );
    // Real resources, so that hostile bodies and queries reach the handlers, not a 404.
    const post = async (path: string, body: unknown) => {
      const res = await send(apiKey, 'POST', path, JSON.stringify(body), {
        'x-correlation-id': 'fuzz-setup',
      });
      if (res.status >= 300)
        throw new Error(`POST ${path} answered ${res.status}: ${JSON.stringify(res.body)}`);
      return res.body as Record<string, string>;
    };
    ids.job = (await post('/v1/jobs', { name: 'fuzz' })).id;
    ids.endpoint = (
      await post(`/v1/jobs/${ids.job}/endpoints`, {
        name: 'fuzz',
        url: 'https://example.com/fuzz',
        intervalMs: 60_000,
        triggers: ['deploy'],
      })
    ).id;
    ids.apiKey = (await post('/v1/api-keys', { name: 'spare' })).id;
    ids.subscription = (
      await post('/v1/subscriptions', { url: 'https://hooks.example.com/x', eventTypes: ['RunFinished'] })
    ).id;
    ids.run = (await post(`/v1/endpoints/${ids.endpoint}/trigger`, {})).runId ?? randomUUID();
  });

  afterAll(async () => {
    await api?.close();
  });

  /** Sends one request; an event stream is cut after its headers. */
  async function send(
    key: string,
    method: string,
    url: string,
    rawBody?: string,
    headers: Record<string, string> = {},
  ): Promise<Answer> {
    const res = await fetch(`${api.url}${url}`, {
      method,
      headers: {
        'x-api-key': key,
        ...(rawBody === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: rawBody,
    });
    if (res.headers.get('content-type')?.startsWith('text/event-stream')) {
      await res.body?.cancel();
      return { status: res.status, body: null };
    }
    const text = await res.text();
    try {
      return { status: res.status, body: text ? JSON.parse(text) : null };
    } catch {
      return { status: res.status, body: text };
    }
  }

  const keyFor = (operation: Operation) => (operation.path === '/v1/tenants' ? api.adminKey : apiKey);

  /** The path with real ids (or the given value for one parameter). */
  function urlOf(operation: Operation, override?: { name: string; value: string }): string {
    return operation.path.replace(/\{(\w+)\}/g, (_, name: string) => {
      if (override?.name === name) return override.value;
      if (name === 'jobId') return ids.job;
      if (name === 'name') return 'deploy';
      const resource = operation.path.split('/')[2];
      return (
        {
          jobs: ids.job,
          endpoints: ids.endpoint,
          runs: ids.run,
          'api-keys': ids.apiKey,
          subscriptions: ids.subscription,
        }[resource] ?? randomUUID()
      );
    });
  }

  /** Required query parameters, valid. */
  function baseQuery(operation: Operation, except?: string): string {
    const valid: Record<string, string> = { asOf: '2030-01-01T00:00:00Z', expr: '0 9 * * 1-5' };
    return operation.parameters
      .filter((p) => p.in === 'query' && p.required && p.name !== except)
      .map((p) => `${p.name}=${encodeURIComponent(valid[p.name] ?? 'x')}`)
      .join('&');
  }

  const withQuery = (url: string, ...parts: string[]) => {
    const query = parts.filter(Boolean).join('&');
    return query ? `${url}?${query}` : url;
  };

  function resolve(schema: Schema | undefined): Schema | undefined {
    if (!schema) return undefined;
    if (schema.$ref) return resolve(schemas[schema.$ref.split('/').at(-1)!]);
    if (schema.allOf?.length === 1) return resolve({ ...schema.allOf[0], example: schema.example });
    return schema;
  }

  /** A valid body (as JSON text) to mutate one property of; it depends on the property. */
  function baseBody(operation: Operation, property = ''): Record<string, unknown> {
    const schema = resolve(operation.body)!;
    const name = schema.$ref ?? operation.path;
    if (name.endsWith('/endpoints') || operation.path === '/v1/endpoints/{id}') {
      const top = property.split('.')[0];
      const schedule: Record<string, unknown> =
        top === 'cron' || top === 'timezone'
          ? { cron: '0 9 * * 1-5', timezone: 'Europe/Berlin' }
          : top === 'runAt'
            ? { runAt: '2030-01-01T09:00:00Z' }
            : top === 'schedule'
              ? { schedule: { every: 'week', at: '09:30', on: 'mon', timezone: 'Europe/Berlin' } }
              : { intervalMs: 60_000 };
      if (operation.method === 'PATCH') return top === 'intervalMs' ? {} : schedule;
      return { name: 'fuzzed', url: 'https://example.com/fuzzed', allowDuplicate: true, ...schedule };
    }
    const bases: Record<string, Record<string, unknown>> = {
      '/v1/subscriptions': { url: 'https://hooks.example.com/y', eventTypes: ['RunFinished'] },
      '/v1/endpoints/{id}/hints': { kind: 'interval', intervalMs: 60_000, reason: 'fuzz' },
    };
    if (bases[operation.path]) return { ...bases[operation.path] };
    return Object.fromEntries((schema.required ?? []).map((p) => [p, 'fuzz']));
  }

  /** Body text with `path` (a.b) set to raw JSON `json`; other values from `base`. */
  function bodyWith(
    base: Record<string, unknown>,
    path: string[],
    json: string,
    parentExample?: unknown,
  ): string {
    const [head, ...rest] = path;
    const others = Object.entries(base)
      .filter(([key]) => key !== head)
      .map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`);
    const inner =
      rest.length === 0
        ? json
        : bodyWith((base[head] ?? parentExample ?? {}) as Record<string, unknown>, rest, json);
    return `{${[...others, `${JSON.stringify(head)}:${inner}`].join(',')}}`;
  }

  /** Property paths of a body schema, one level into nested objects (`schedule.at`). */
  function propertyPaths(schema: Schema | undefined): { path: string[]; example?: unknown }[] {
    const resolved = resolve(schema);
    const paths: { path: string[]; example?: unknown }[] = [];
    for (const [name, property] of Object.entries(resolved?.properties ?? {})) {
      paths.push({ path: [name] });
      const inner = resolve(property);
      if (inner !== property && inner?.properties) {
        for (const child of Object.keys(inner.properties))
          paths.push({ path: [name, child], example: inner.example });
      }
    }
    return paths;
  }

  function names(answer: Answer, field: string): boolean {
    const body = answer.body as { message?: string; fields?: Record<string, string> };
    const lower = field.toLowerCase();
    return (
      Object.keys(body.fields ?? {}).some((key) => {
        const k = key.toLowerCase();
        return (
          k === lower || k.startsWith(`${lower}.`) || k.startsWith(`${lower}[`) || lower.startsWith(`${k}.`)
        );
      }) || (body.message ?? '').toLowerCase().includes(lower)
    );
  }

  /** What is wrong with an answer, or null. */
  function problem(answer: Answer, field: string | undefined): string | null {
    if (answer.status >= 500) return 'a 5xx';
    if (answer.status < 400) return null;
    const body = answer.body as { error?: unknown; message?: unknown; fields?: unknown };
    if (
      typeof body !== 'object' ||
      body === null ||
      typeof body.error !== 'string' ||
      typeof body.message !== 'string' ||
      (body.fields !== undefined &&
        (typeof body.fields !== 'object' ||
          Object.values(body.fields as object).some((message) => typeof message !== 'string')))
    )
      return 'not the error shape';
    if (answer.status === 400 && field !== undefined && body.error !== 'BAD_JSON' && !names(answer, field))
      return `a 400 not naming ${field}`;
    return null;
  }

  /** Resources fuzzed at once: the refused requests are told apart by their `x-correlation-id`. */
  const CONCURRENCY = 8;
  let sent = 0;

  /** Runs every case; returns one line per failure (method, path, input, answer). */
  async function run(cases: Case[]): Promise<string[]> {
    const failures: string[] = [];
    const refused = new Map<string, Case & { answer: Answer }>();
    const report = (c: Case, wrong: string, answer: Answer) =>
      failures.push(
        `${c.operation.method} ${c.operation.path} [${c.input}] → ${wrong}: ${answer.status} ${JSON.stringify(
          answer.body,
        )?.slice(0, 300)}`,
      );
    // One queue per resource, sent in order: concurrent writes to one stream would answer
    // 409 CONCURRENCY_CONFLICT and could hide what the handler does with the input.
    const queues = new Map<string, Case[]>();
    for (const c of cases) {
      const resource = c.operation.path.split('/')[2];
      const key = ['runs', 'triggers'].includes(resource) ? 'endpoints' : resource;
      queues.set(key, [...(queues.get(key) ?? []), c]);
    }
    const pending = [...queues.values()].sort((a, b) => b.length - a.length);
    const worker = async () => {
      for (let queue = pending.shift(); queue; queue = pending.shift()) {
        for (const c of queue) {
          const correlationId = `fuzz-${++sent}`;
          let answer: Answer;
          try {
            answer = await send(keyFor(c.operation), c.operation.method, c.url, c.rawBody, {
              ...c.headers,
              'x-correlation-id': correlationId,
            });
          } catch (error) {
            report(c, 'no answer', { status: 0, body: String(error) });
            continue;
          }
          const wrong = problem(answer, c.field);
          if (wrong) report(c, wrong, answer);
          else if (answer.status >= 400) refused.set(correlationId, { ...c, answer });
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    for (const id of await writtenBy([...refused.keys()])) {
      const c = refused.get(id)!;
      report(c, 'a refusal that wrote events', c.answer);
    }
    return failures;
  }

  /** Which of these correlation ids an event carries. */
  async function writtenBy(correlationIds: string[]): Promise<string[]> {
    const { rows } = await api.db.pool.query<{ id: string }>(
      `SELECT DISTINCT metadata->>'correlationId' AS id FROM events WHERE metadata->>'correlationId' = ANY($1)`,
      [correlationIds],
    );
    return rows.map((row) => row.id);
  }

  it('should find every route of DESIGN §6 in the document, and tell requests by correlation id', async () => {
    expect(await writtenBy(['fuzz-setup', 'fuzz-none'])).toEqual(['fuzz-setup']);
    expect(operations.length).toBeGreaterThanOrEqual(39);
    expect(operations.map((o) => `${o.method} ${o.path}`)).toEqual(
      expect.arrayContaining([
        'POST /v1/tenants',
        'POST /v1/jobs/{jobId}/endpoints',
        'GET /v1/cron/describe',
      ]),
    );
  });

  it('should answer hostile values of each body property with a 4xx naming it', async () => {
    const values = [...FIXED_VALUES, ...seededValues(seeded(SEED), 3)];
    const cases: Case[] = [];
    for (const operation of operations.filter((o) => o.body)) {
      for (const { path, example } of propertyPaths(operation.body)) {
        const field = path.join('.');
        const base = baseBody(operation, field);
        for (const value of values) {
          cases.push({
            operation,
            input: `${field} = ${value.label}`,
            url: withQuery(urlOf(operation), baseQuery(operation)),
            rawBody: bodyWith(base, path, value.json, example),
            field,
          });
        }
      }
    }
    expect(await run(cases)).toEqual([]);
  }, 120_000);

  it('should answer a body that is not an object, or has unknown properties, with a 400', async () => {
    const wholes: [string, string][] = [
      ['array', '[]'],
      ['array of the body', '[{"name":"x"}]'],
      ['string', '"x"'],
      ['number', '42'],
      ['null', 'null'],
      ['true', 'true'],
      ['broken JSON', '{"a":'],
      ['lone surrogate key', '{"\\ud800":1}'],
      ['object 50 deep', nested(50, '{"a":', '}', '1')],
    ];
    const cases: Case[] = [];
    for (const operation of operations.filter((o) => o.method !== 'GET')) {
      const url = withQuery(urlOf(operation), baseQuery(operation));
      for (const [label, rawBody] of wholes)
        cases.push({ operation, input: `body = ${label}`, url, rawBody });
      const base = operation.body ? baseBody(operation) : {};
      for (const [label, key, json] of [
        ['unknown property', 'zzUnknown', '1'],
        ['unknown property with NUL', 'a\u0000b', '1'],
        ['__proto__', '__proto__', '{"admin":true}'],
        ['constructor', 'constructor', '{}'],
      ]) {
        cases.push({
          operation,
          input: `body.${label}`,
          url,
          rawBody: bodyWith(base, [key], json),
          field: key,
        });
      }
      for (const { path, example } of propertyPaths(operation.body).filter((p) => p.path.length === 2)) {
        const parent = path[0];
        cases.push({
          operation,
          input: `${parent}.zzUnknown`,
          url,
          rawBody: bodyWith(baseBody(operation, parent), [parent, 'zzUnknown'], '1', example),
          field: `${parent}.zzUnknown`,
        });
      }
    }
    expect(await run(cases)).toEqual([]);
  }, 60_000);

  it('should answer hostile path parameters with a 400 naming them or a 404', async () => {
    const cases: Case[] = [];
    for (const operation of operations) {
      for (const parameter of operation.parameters.filter((p) => p.in === 'path')) {
        for (const [label, value] of PATH_VALUES) {
          cases.push({
            operation,
            input: `path ${parameter.name} = ${label}`,
            url: withQuery(urlOf(operation, { name: parameter.name, value }), baseQuery(operation)),
            rawBody: operation.body ? JSON.stringify(baseBody(operation)) : undefined,
            field: parameter.name,
          });
        }
      }
    }
    expect(await run(cases)).toEqual([]);
  }, 60_000);

  it('should answer hostile query parameters with a 400 naming them', async () => {
    const cases: Case[] = [];
    for (const operation of operations) {
      const rawBody = operation.body ? JSON.stringify(baseBody(operation)) : undefined;
      const parameters = operation.parameters.filter((p) => p.in === 'query').map((p) => p.name);
      for (const name of [...parameters, 'zzUnknown']) {
        const base = baseQuery(operation, name);
        const queries = [
          ...QUERY_VALUES.map(([label, value]) => [label, `${name}=${value}`]),
          ...QUERY_SHAPES.map(([label, shape]) => [label, shape.replaceAll('{p}', name)]),
        ];
        for (const [label, query] of queries) {
          cases.push({
            operation,
            input: `query ${name} ${label}`,
            url: withQuery(urlOf(operation), base, query),
            rawBody,
            field: name,
          });
        }
      }
    }
    expect(await run(cases)).toEqual([]);
  }, 60_000);

  it('should answer hostile x-min-position, Idempotency-Key and Last-Event-ID headers with a 4xx', async () => {
    const cases: Case[] = [];
    for (const operation of operations) {
      for (const parameter of operation.parameters.filter((p) => p.in === 'header')) {
        const name = parameter.name.toLowerCase();
        for (const [label, value] of HEADER_VALUES[name] ?? []) {
          cases.push({
            operation,
            input: `header ${name} = ${label}`,
            url: withQuery(urlOf(operation), baseQuery(operation)),
            rawBody: operation.body ? JSON.stringify(baseBody(operation)) : undefined,
            headers: { [name]: value },
            field: name,
          });
        }
      }
    }
    expect(await run(cases)).toEqual([]);
  }, 60_000);

  it('should have left the resources it fuzzed in place', async () => {
    const { rows } = await api.db.pool.query(
      `SELECT stream_id, type FROM events WHERE type LIKE '%Archived' OR type = 'ApiKeyRevoked' OR type = 'WebhookSubscriptionDeleted'`,
    );
    expect(rows).toEqual([]);
  });
});
