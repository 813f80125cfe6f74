import type { EventEnvelope } from '@cronicorn/events';

// Server-Sent Events framing (WHATWG HTML, "Server-sent events"). A frame ends with a blank
// line; JSON.stringify never emits a raw newline, so the envelope fits on one `data:` line.

/** `id:` = global position (what `Last-Event-ID` / `after` resume from), `event:` = type. */
export function sseEvent(envelope: EventEnvelope): string {
  return `id: ${envelope.position}\nevent: ${envelope.type}\ndata: ${JSON.stringify(envelope)}\n\n`;
}

/** A comment line: ignored by EventSource, keeps proxies and idle timeouts from closing the stream. */
export function sseComment(text: string): string {
  return `: ${text.replace(/[\r\n]+/g, ' ')}\n\n`;
}

/**
 * Only an `id:`: sets the client's last event id (sent back as `Last-Event-ID` when it
 * reconnects) without dispatching an event.
 */
export function sseId(position: string): string {
  return `id: ${position}\n\n`;
}

/** Tells EventSource how long to wait before reconnecting. */
export function sseRetry(ms: number): string {
  return `retry: ${Math.max(0, Math.floor(ms))}\n\n`;
}
