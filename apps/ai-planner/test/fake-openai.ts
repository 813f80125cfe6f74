import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A tool call as the fake model sends it; object arguments are JSON-encoded, strings sent as they are. */
export interface ScriptedCall {
  name: string;
  arguments: string | Record<string, unknown>;
}

/** One scripted answer to one chat completion request. */
export type Scripted =
  | {
      toolCalls?: ScriptedCall[];
      content?: string | null;
      /** Null: the answer has no `usage` (some OpenAI-compatible servers send none). */
      usage?: { prompt: number; completion: number } | null;
      /** Answer this late (the model is slow). */
      delayMs?: number;
    }
  | { status: number; body?: unknown }
  /** An error page that is no JSON (a proxy in front of the server). */
  | { status: number; html: string }
  | { hang: true }
  | { raw: unknown };

/** What the fake server received: the parsed request body. */
export interface ChatRequest {
  model: string;
  messages: Array<{ role: string; content?: string | null; tool_call_id?: string; tool_calls?: unknown[] }>;
  tools?: Array<{ type: string; function: { name: string } }>;
  tool_choice?: unknown;
}

type Answer = Scripted | ((request: ChatRequest) => Scripted);

/**
 * An OpenAI-compatible chat completions server on loopback (real HTTP, node:http), answering
 * from a script per endpoint: the endpoint is read from the user message the planner sends
 * (its `endpoint.id`). Unscripted requests get "no change" with no tool calls.
 */
export class FakeOpenAI {
  readonly requests = new Map<string, ChatRequest[]>();
  private readonly scripts = new Map<string, Answer[]>();
  private readonly sockets = new Set<Socket>();
  private counter = 0;

  private constructor(
    private readonly server: Server,
    readonly baseURL: string,
  ) {}

  static async start(): Promise<FakeOpenAI> {
    let fake: FakeOpenAI | null = null;
    const server = createServer((req, res) => void fake?.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    fake = new FakeOpenAI(server, `http://127.0.0.1:${port}/v1`);
    server.on('connection', (socket) => {
      fake?.sockets.add(socket);
      socket.once('close', () => fake?.sockets.delete(socket));
    });
    return fake;
  }

  /** Answers for the next requests about `endpointId`, in order. */
  script(endpointId: string, ...answers: Answer[]): void {
    this.scripts.set(endpointId, [...(this.scripts.get(endpointId) ?? []), ...answers]);
  }

  requestsFor(endpointId: string): ChatRequest[] {
    return this.requests.get(endpointId) ?? [];
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not found"}}');
      return;
    }
    const request = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatRequest;
    const endpointId = endpointOf(request);
    this.requests.set(endpointId, [...this.requestsFor(endpointId), request]);
    const queue = this.scripts.get(endpointId) ?? [];
    const next = queue.shift();
    const answer: Scripted =
      typeof next === 'function' ? next(request) : (next ?? { content: 'Healthy: no change.' });

    if ('hang' in answer) return; // never answers; the client's timeout must end it
    if ('html' in answer) {
      res.writeHead(answer.status, { 'content-type': 'text/html' }).end(answer.html);
      return;
    }
    if ('status' in answer) {
      res
        .writeHead(answer.status, { 'content-type': 'application/json' })
        .end(JSON.stringify(answer.body ?? { error: { message: 'scripted failure', type: 'server_error' } }));
      return;
    }
    if ('raw' in answer) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer.raw));
      return;
    }
    if (answer.delayMs) await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
    const id = `call_${++this.counter}`;
    const toolCalls = (answer.toolCalls ?? []).map((call, i) => ({
      id: `${id}_${i}`,
      type: 'function',
      function: {
        name: call.name,
        arguments: typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments),
      },
    }));
    const usage = answer.usage === undefined ? { prompt: 100, completion: 20 } : answer.usage;
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        id: `chatcmpl-${id}`,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: request.model,
        choices: [
          {
            index: 0,
            finish_reason: toolCalls.length ? 'tool_calls' : 'stop',
            message: {
              role: 'assistant',
              content: answer.content ?? null,
              ...(toolCalls.length ? { tool_calls: toolCalls } : {}),
            },
          },
        ],
        ...(usage
          ? {
              usage: {
                prompt_tokens: usage.prompt,
                completion_tokens: usage.completion,
                total_tokens: usage.prompt + usage.completion,
              },
            }
          : {}),
      }),
    );
  }
}

/** The endpoint a planner request is about: `endpoint.id` in its user message. */
function endpointOf(request: ChatRequest): string {
  const user = request.messages.find((m) => m.role === 'user');
  try {
    const snapshot = JSON.parse(user?.content ?? '{}') as { endpoint?: { id?: string } };
    return snapshot.endpoint?.id ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The tool messages of a request (what the planner fed back), parsed. */
export function toolResults(request: ChatRequest): Array<Record<string, unknown>> {
  return request.messages
    .filter((m) => m.role === 'tool')
    .map((m) => JSON.parse(m.content ?? '{}') as Record<string, unknown>);
}
