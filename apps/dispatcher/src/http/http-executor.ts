import * as http from 'node:http';
import * as https from 'node:https';
import { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as delay } from 'node:timers/promises';
import axios, { AxiosInstance } from 'axios';
import { DispatchWorkItem, RunResponse, RunStatus } from '@cronicorn/events';
import { TargetGuard, TargetRefusedError } from './target-guard';
import { redactText } from '../dispatch/secret-redaction';

/** The request of a work item with `secretHeaders` already decrypted: never log it. */
export type HttpRequestSpec = DispatchWorkItem['request'];

/** How a run ended: the HTTP half of `RunFinished` (DESIGN §4). */
export interface RunOutcome {
  status: RunStatus;
  /** Status of the last response, null when no response arrived. */
  httpStatus: number | null;
  /** Wall time of the whole run, all attempts and the waits between them. */
  durationMs: number;
  attempts: number;
  /** Why the run did not succeed; never contains secret header values. */
  error: string | null;
  response: RunResponse | null;
  /** The last response's `Retry-After` (429/503), for the governor. */
  retryAfterMs: number | null;
}

/** Reported after every attempt, for logs and metrics. */
export interface AttemptReport {
  attempt: number;
  status: RunStatus;
  httpStatus: number | null;
  durationMs: number;
  error: string | null;
  /** The wait before the next attempt, or null when this attempt was the last. */
  retryInMs: number | null;
}

export interface ExecuteOptions {
  /** Response bytes read at most; the connection is closed at the limit. Default 64 KiB. */
  maxResponseBytes?: number;
  /** Bytes of the snippet kept in the outcome. Default 4 KiB. */
  snippetBytes?: number;
  onAttempt?: (report: AttemptReport) => void;
}

export interface HttpExecutorSettings {
  /** Backoff before attempt n+1 is about `baseMs · 2^(n−1)` (capped at `maxMs`), jittered down to half. */
  backoff?: { baseMs: number; maxMs: number };
  /** A `Retry-After` up to this long is waited for inside the run; a longer one ends the run. */
  maxRetryAfterWaitMs?: number;
  maxRedirects?: number;
  userAgent?: string;
  random?: () => number;
}

const DEFAULTS = {
  maxResponseBytes: 64 * 1024,
  snippetBytes: 4 * 1024,
  backoff: { baseMs: 500, maxMs: 10_000 },
  maxRetryAfterWaitMs: 5_000,
  maxRedirects: 5,
  userAgent: 'cronicorn-dispatcher/1',
  timeoutMs: 30_000,
};

interface AttemptResult {
  status: RunStatus;
  httpStatus: number | null;
  error: string | null;
  response: RunResponse | null;
  retryAfterMs: number | null;
  retryable: boolean;
  /** The request failed on a reused keep-alive socket the target had already closed. */
  staleConnection?: boolean;
}

/**
 * Makes the HTTP call of a run with retries inside the run. Every connection, including each
 * redirect hop, goes through the {@link TargetGuard}'s agents. Never throws for anything the
 * target does: the result is always a {@link RunOutcome}.
 */
export class HttpExecutor {
  private readonly http: AxiosInstance;
  private readonly agents: { httpAgent: http.Agent; httpsAgent: https.Agent };
  /** Agents without keep-alive, for the retry after a stale kept-alive socket. */
  private readonly freshAgents: { httpAgent: http.Agent; httpsAgent: https.Agent };
  private readonly settings: Required<HttpExecutorSettings>;

  constructor(
    private readonly guard: TargetGuard,
    settings: HttpExecutorSettings = {},
  ) {
    this.settings = {
      backoff: settings.backoff ?? DEFAULTS.backoff,
      maxRetryAfterWaitMs: settings.maxRetryAfterWaitMs ?? DEFAULTS.maxRetryAfterWaitMs,
      maxRedirects: settings.maxRedirects ?? DEFAULTS.maxRedirects,
      userAgent: settings.userAgent ?? DEFAULTS.userAgent,
      random: settings.random ?? Math.random,
    };
    this.agents = guard.createAgents({ keepAlive: true });
    this.freshAgents = guard.createAgents({ keepAlive: false });
    this.http = axios.create({
      ...this.agents,
      // An environment proxy would resolve and connect on our behalf, past the guard.
      proxy: false,
      maxRedirects: this.settings.maxRedirects,
      beforeRedirect: (options) => void this.guard.checkUrl(String(options.href)),
      responseType: 'stream',
      validateStatus: () => true,
    });
  }

  async execute(request: HttpRequestSpec, options: ExecuteOptions = {}): Promise<RunOutcome> {
    const started = performance.now();
    const maxAttempts = Math.max(1, Math.floor(request.maxAttempts) || 1);
    let staleRetried = false;
    for (let attempt = 1; ; attempt++) {
      const attemptStarted = performance.now();
      let result = await this.attempt(request, options);
      // A keep-alive socket the target closed while idle fails before the request reached it
      // (Node's advice: retry when `reusedSocket`); that is our pool's fault, not the target's,
      // so it gets one fresh-connection retry that does not count as an attempt.
      if (result.staleConnection && !staleRetried) {
        staleRetried = true;
        result = await this.attempt(request, options, this.freshAgents);
      }
      const retryInMs = attempt < maxAttempts ? this.retryDelay(result, attempt) : null;
      options.onAttempt?.({
        attempt,
        status: result.status,
        httpStatus: result.httpStatus,
        durationMs: Math.round(performance.now() - attemptStarted),
        error: result.error,
        retryInMs,
      });
      if (retryInMs === null) {
        const { retryable: _, staleConnection: __, ...outcome } = result;
        return { ...outcome, attempts: attempt, durationMs: Math.round(performance.now() - started) };
      }
      await delay(retryInMs);
    }
  }

  /** Closes pooled keep-alive connections. */
  close(): void {
    for (const agents of [this.agents, this.freshAgents]) {
      agents.httpAgent.destroy();
      agents.httpsAgent.destroy();
    }
  }

  private retryDelay(result: AttemptResult, attempt: number): number | null {
    if (result.status === 'success' || !result.retryable) return null;
    if (result.retryAfterMs !== null) {
      return result.retryAfterMs <= this.settings.maxRetryAfterWaitMs ? result.retryAfterMs : null;
    }
    const { baseMs, maxMs } = this.settings.backoff;
    const ceiling = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
    return Math.round(ceiling / 2 + (this.settings.random() * ceiling) / 2);
  }

  private async attempt(
    request: HttpRequestSpec,
    options: ExecuteOptions,
    agents?: { httpAgent: http.Agent; httpsAgent: https.Agent },
  ): Promise<AttemptResult> {
    const timeoutMs = request.timeoutMs > 0 ? request.timeoutMs : DEFAULTS.timeoutMs;
    const secrets = Object.values(request.secretHeaders).filter((value) => value !== '');
    // One deadline for connect, headers and body alike: axios' own `timeout` stops at headers.
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      this.guard.checkUrl(request.url);
      const { data, contentType } = encodeBody(request.body);
      const headers = mergeHeaders(
        { 'user-agent': this.settings.userAgent, ...(contentType ? { 'content-type': contentType } : {}) },
        request.headers,
        request.secretHeaders,
      );
      const res = await this.http.request<Readable>({
        url: request.url,
        method: request.method,
        headers,
        data,
        signal: controller.signal,
        ...agents,
        // Secret headers are dropped when a redirect leaves the origin, like Authorization.
        sensitiveHeaders: Object.keys(request.secretHeaders),
      });
      const body = await readBounded(
        res.data,
        options.maxResponseBytes ?? DEFAULTS.maxResponseBytes,
        controller.signal,
      );
      const contentTypeHeader = res.headers['content-type'];
      const declaredLength = Number(res.headers['content-length']);
      const response: RunResponse = {
        snippet: snippetOf(body.kept, options.snippetBytes ?? DEFAULTS.snippetBytes, secrets),
        // Content-Length may be the compressed size, hence the max with what was received.
        bytes:
          body.truncated && Number.isSafeInteger(declaredLength)
            ? Math.max(declaredLength, body.received)
            : body.received,
        truncated: body.truncated,
        contentType: typeof contentTypeHeader === 'string' ? contentTypeHeader : null,
      };
      const status = res.status;
      const retryAfterMs =
        status === 429 || status === 503
          ? parseRetryAfter(headerValue(res.headers['retry-after']), Date.now())
          : null;
      const ok = status >= 200 && status < 300;
      return {
        status: ok ? 'success' : 'failed',
        httpStatus: status,
        error: ok ? null : `HTTP ${status}`,
        response,
        retryAfterMs,
        retryable: status >= 500 || status === 429,
      };
    } catch (err) {
      const failure = controller.signal.aborted
        ? { status: 'timeout' as const, error: `timed out after ${timeoutMs} ms`, retryable: true }
        : describeError(err);
      return {
        ...failure,
        staleConnection: !controller.signal.aborted && failedOnReusedSocket(err),
        error: redactText(failure.error, secrets),
        httpStatus: null,
        response: null,
        retryAfterMs: null,
      };
    } finally {
      clearTimeout(timer);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

function failedOnReusedSocket(err: unknown): boolean {
  if (!axios.isAxiosError(err) || !['ECONNRESET', 'EPIPE'].includes(err.code ?? '')) return false;
  // With redirects on, axios' request is follow-redirects' wrapper around the ClientRequest.
  const request = err.request as
    { reusedSocket?: boolean; _currentRequest?: { reusedSocket?: boolean } } | undefined;
  return (request?._currentRequest ?? request)?.reusedSocket === true;
}

function encodeBody(body: unknown): { data?: Buffer; contentType?: string } {
  if (body === null || body === undefined) return {};
  // A Buffer keeps axios' transformRequest from re-encoding or JSON-quoting the payload.
  if (typeof body === 'string')
    return { data: Buffer.from(body, 'utf8'), contentType: 'text/plain; charset=utf-8' };
  return { data: Buffer.from(JSON.stringify(body), 'utf8'), contentType: 'application/json' };
}

/**
 * Framing and connection headers are the client's own. A configured Content-Length or
 * Transfer-Encoding that disagrees with the body leaves bytes on a pooled keep-alive socket,
 * which the target reads as the start of the next request on it: another tenant's, secret
 * headers included. An Upgrade would switch the protocol under the call.
 */
const CONNECTION_HEADERS = new Set([
  'connection',
  'content-length',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Later sources win; names compare case-insensitively; connection headers are dropped. */
function mergeHeaders(...sources: Record<string, string>[]): Record<string, string> {
  const merged = new Map<string, [string, string]>();
  for (const source of sources) {
    for (const [name, value] of Object.entries(source)) {
      const key = name.toLowerCase();
      if (!CONNECTION_HEADERS.has(key)) merged.set(key, [name, value]);
    }
  }
  return Object.fromEntries(merged.values());
}

function headerValue(value: unknown): string | undefined {
  return typeof value === 'string' ? value : Array.isArray(value) ? String(value[0]) : undefined;
}

/**
 * The longest `Retry-After` recorded (7 days, the furthest a hint reaches). The governor plans
 * the next run at finish + Retry-After: a target's `Retry-After: 99999999999999` would otherwise
 * put that plan past the last instant a Date can hold.
 */
const MAX_RETRY_AFTER_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * `Retry-After` as delay-seconds or an HTTP date, in ms from `nowMs` (at most 7 days); null when
 * absent or invalid.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Math.min(Number(trimmed) * 1000, MAX_RETRY_AFTER_MS);
  // An HTTP date names its month; without this `Date.parse('-5')` would read a year. It is
  // always GMT, but the asctime form does not say so and Date.parse would take local time.
  const zoned = /[a-z]$|[+-]\d{4}$/i.test(trimmed) ? trimmed : `${trimmed} GMT`;
  const at = /[a-z]{3}/i.test(trimmed) ? Date.parse(zoned) : NaN;
  return Number.isNaN(at) ? null : Math.min(Math.max(0, at - nowMs), MAX_RETRY_AFTER_MS);
}

/**
 * Reads at most `limit` bytes. At the limit the stream is destroyed, which closes the socket:
 * the rest of a large body is never transferred, let alone buffered.
 */
async function readBounded(
  stream: Readable,
  limit: number,
  signal: AbortSignal,
): Promise<{ kept: Buffer; received: number; truncated: boolean }> {
  const onAbort = () => stream.destroy(new Error('aborted'));
  signal.addEventListener('abort', onAbort, { once: true });
  const chunks: Buffer[] = [];
  let kept = 0;
  let received = 0;
  try {
    for await (const chunk of stream) {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      received += buffer.length;
      if (kept + buffer.length > limit) {
        chunks.push(buffer.subarray(0, limit - kept));
        stream.destroy();
        return { kept: Buffer.concat(chunks), received, truncated: true };
      }
      chunks.push(buffer);
      kept += buffer.length;
    }
    return { kept: Buffer.concat(chunks), received, truncated: false };
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/**
 * The body as the target sent it, as text, cut to `maxBytes` on a UTF-8 boundary (JSON is not
 * re-serialised: that would change large numbers and duplicate keys in the record of the run).
 * Secrets are removed before the cut, while the strings that may spell them are whole.
 * NUL becomes U+FFFD like any other undecodable byte: Postgres cannot store it in text or jsonb,
 * and the event carrying the snippet could never be appended.
 */
export function snippetOf(body: Buffer, maxBytes: number, secrets: readonly string[] = []): string {
  // StringDecoder holds back an incomplete trailing character instead of emitting U+FFFD.
  const decoded = new StringDecoder('utf8')
    .write(body)
    .replace(/^\uFEFF/, '')
    .replace(/\0/g, '\uFFFD');
  const text = secrets.length > 0 ? redactText(decoded, secrets) : decoded;
  const bytes = Buffer.from(text, 'utf8');
  return bytes.length <= maxBytes ? text : new StringDecoder('utf8').write(bytes.subarray(0, maxBytes));
}

// Failures that repeat identically on a retry.
const PERMANENT_CODES = new Set([
  'ERR_FR_TOO_MANY_REDIRECTS',
  'ERR_INVALID_URL',
  'ERR_INVALID_CHAR',
  'ERR_INVALID_HTTP_TOKEN',
  'ERR_UNESCAPED_CHARACTERS',
  'ERR_BAD_OPTION',
  'ERR_BAD_OPTION_VALUE',
  'ERR_NOT_SUPPORT',
]);

function describeError(err: unknown): { status: RunStatus; error: string; retryable: boolean } {
  // follow-redirects wraps what failed a redirect (a bad Location, say) in its own error.
  let permanent = false;
  for (const cause of causesOf(err)) {
    if (cause instanceof TargetRefusedError)
      return { status: 'failed', error: cause.message, retryable: false };
    const code = 'code' in cause && typeof cause.code === 'string' ? cause.code : null;
    if (code !== null && (PERMANENT_CODES.has(code) || /CERT|SELF_SIGNED|ERR_TLS/.test(code)))
      permanent = true;
  }
  const code = err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : null;
  const message = err instanceof Error ? err.message || err.name : String(err);
  return {
    status: 'failed',
    error: code && !message.includes(code) ? `${code}: ${message}` : message,
    retryable: !permanent,
  };
}

/** `err` and its causes; not by `instanceof Error`, which fails for errors of another realm. */
function causesOf(err: unknown): object[] {
  const chain: object[] = [];
  for (let cause = err; typeof cause === 'object' && cause !== null && chain.length < 8;) {
    chain.push(cause);
    cause = 'cause' in cause ? cause.cause : undefined;
  }
  return chain;
}
