import { randomUUID } from 'node:crypto';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const RETRYABLE = new Set([0, 429, 502, 503, 504]);

/**
 * A small client of the REST contract. POSTs carry an `Idempotency-Key`, so a retry after a
 * timeout or a 503 cannot create anything twice; each request is bounded in time.
 */
export class Api {
  constructor(
    private readonly baseUrl: string,
    private readonly key: string,
    private readonly timeoutMs = 15_000,
  ) {}

  withKey(key: string): Api {
    return new Api(this.baseUrl, key, this.timeoutMs);
  }

  async request<T>(method: string, path: string, body?: unknown, attempts = 5): Promise<T> {
    const idempotencyKey = method === 'POST' ? randomUUID() : undefined;
    for (let attempt = 1; ; attempt++) {
      let status = 0;
      let text = '';
      try {
        const res = await fetch(`${this.baseUrl}${path}`, {
          method,
          headers: {
            'x-api-key': this.key,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        status = res.status;
        text = await res.text();
        if (res.ok) return (text ? JSON.parse(text) : {}) as T;
      } catch (error) {
        text = error instanceof Error ? error.message : String(error);
      }
      if (!RETRYABLE.has(status) || attempt >= attempts) {
        throw new ApiError(status, `${method} ${path} → ${status || 'no answer'}: ${text.slice(0, 300)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 250 * 2 ** (attempt - 1))));
    }
  }
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` at once; stops at the first error. */
export async function boundedAll(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed: unknown = null;
  const worker = async () => {
    while (failed === null && next < count) {
      const index = next++;
      try {
        await task(index);
      } catch (error) {
        failed ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  if (failed !== null) throw failed;
}
