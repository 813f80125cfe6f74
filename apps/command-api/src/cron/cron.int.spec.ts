import { request } from '../../test/http';
import { startApi, TestApi } from '../../test/harness';

describe('GET /v1/cron/describe', () => {
  let api: TestApi;
  let apiKey: string;
  const describeCron = (query: Record<string, string>) =>
    request(api.url, 'GET', `/v1/cron/describe?${new URLSearchParams(query).toString()}`, { apiKey });

  beforeAll(async () => {
    api = await startApi();
    ({ apiKey } = await api.createTenant());
  });

  afterAll(async () => {
    await api?.close();
  });

  it('should describe a valid expression with its next times in the zone', async () => {
    const res = await describeCron({ expr: '0 9 * * *', timezone: 'Europe/Berlin', count: '3' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ valid: true, description: expect.any(String), nextTimes: expect.any(Array) });
    const times = res.body.nextTimes as string[];
    expect(times).toHaveLength(3);
    for (const time of times) {
      const hour = new Intl.DateTimeFormat('en-GB', {
        timeZone: 'Europe/Berlin',
        hour: '2-digit',
        hourCycle: 'h23',
      }).format(new Date(time));
      expect(hour).toBe('09');
    }
    expect([...times].sort()).toEqual(times);
  });

  it('should default to UTC and five times', async () => {
    const res = await describeCron({ expr: '@hourly' });
    expect(res.status).toBe(200);
    expect(res.body.nextTimes as string[]).toHaveLength(5);
  });

  it('should list only the times within ten years for an expression that fires more rarely', async () => {
    const res = await describeCron({ expr: '0 0 29 2 *', count: '50' });
    expect(res.status).toBe(200);
    const times = res.body.nextTimes as string[];
    const tenYears = new Date();
    tenYears.setUTCFullYear(tenYears.getUTCFullYear() + 10);
    expect(times.length).toBeGreaterThanOrEqual(2);
    expect(times.length).toBeLessThanOrEqual(3);
    for (const time of times) {
      expect(time).toMatch(/^\d{4}-02-29T00:00:00\.000Z$/);
      expect(new Date(time).getTime()).toBeLessThanOrEqual(tenYears.getTime());
    }
  });

  it('should describe an alias in words and plan it in any case, as endpoints accept it', async () => {
    const res = await describeCron({ expr: '@Weekdays', timezone: 'Europe/Berlin', count: '2' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      valid: true,
      description: 'At 00:00, Monday through Friday',
      nextTimes: expect.any(Array),
    });
    const berlin = new Intl.DateTimeFormat('en-GB', {
      timeZone: 'Europe/Berlin',
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    for (const time of res.body.nextTimes as string[]) {
      expect(berlin.format(new Date(time))).toMatch(/^(Mon|Tue|Wed|Thu|Fri) 00:00$/);
    }
  });

  it('should answer valid false with the reason for an invalid expression', async () => {
    const res = await describeCron({ expr: '61 * * *' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ valid: false, error: expect.any(String) });
  });

  it('should answer 400 naming timezone for an unknown zone', async () => {
    const res = await describeCron({ expr: '0 9 * * *', timezone: 'Mars/Olympus' });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ fields: { timezone: expect.any(String) } });
  });

  it.each([
    ['expr', {}],
    ['count', { expr: '* * * * *', count: '0' }],
    ['count', { expr: '* * * * *', count: '51' }],
  ])('should answer 400 naming %s', async (field, query) => {
    const res = await describeCron(query as Record<string, string>);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ fields: { [field]: expect.any(String) } });
  });
});
