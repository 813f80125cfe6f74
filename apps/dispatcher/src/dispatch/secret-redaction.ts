import type { CallResult } from './run-delivery';

export const REDACTED = '[redacted]';

// A shorter tail is too likely to be an innocent suffix of the snippet.
const MIN_TAIL = 4;

/**
 * Removes secret header values from text that is about to be stored and published. Targets
 * echo request headers back (httpbin's `/headers`, debugging endpoints), so the response
 * snippet may carry them, in whatever escaping the echo used (see `echoForms`). A snippet cut
 * in the middle of a secret would still leak its start: such a tail goes too.
 */
export function redactText(text: string, secrets: readonly string[]): string {
  // Longest first, so a secret that contains another is not left half-redacted.
  const longestFirst = [...secrets].filter((secret) => secret !== '').sort((a, b) => b.length - a.length);
  let out = redactEscapedStrings(text, longestFirst);
  for (const secret of longestFirst) {
    for (const form of echoForms(secret)) {
      out = out.split(form).join(REDACTED);
    }
    for (let length = secret.length - 1; length >= MIN_TAIL; length--) {
      if (out.endsWith(secret.slice(0, length))) {
        out = `${out.slice(0, out.length - length)}${REDACTED}`;
        break;
      }
    }
  }
  return out;
}

/**
 * A JSON string literal, its closing quote captured when it has one (a snippet may end inside
 * one, a line break ends it). Matching always succeeds and resumes after the match, so the text
 * is read once: a required closing quote would make every quote of an unclosed run restart a
 * scan to its end.
 */
const JSON_STRING = /"(?:[^"\\\n]|\\.)*("?)/g;

/**
 * JSON string literals holding a secret under escapes no fixed spelling covers (`\u0041`, a
 * mix): each literal with an escape is decoded, and written again redacted when it holds one.
 */
function redactEscapedStrings(text: string, secrets: readonly string[]): string {
  if (!text.includes('\\')) return text;
  return text.replace(JSON_STRING, (literal, closed: string) => {
    if (!closed || !literal.includes('\\')) return literal;
    let decoded: string;
    try {
      decoded = JSON.parse(literal) as string;
    } catch {
      return literal;
    }
    let redacted = decoded;
    for (const secret of secrets) redacted = redacted.split(secret).join(REDACTED);
    return redacted === decoded ? literal : JSON.stringify(redacted);
  });
}

/** The spellings a target's echo may give `secret`: as is, JSON-escaped (also `\/`), URL- or HTML-encoded. */
function echoForms(secret: string): Set<string> {
  const json = JSON.stringify(secret).slice(1, -1);
  const html = secret
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
  return new Set([secret, json, json.replace(/\//g, '\\/'), encodeURIComponent(secret), html]);
}

/**
 * The call's result with every secret value removed from the text the target chose: the error,
 * the response snippet and the response's Content-Type.
 */
export function redactResult(result: CallResult, secrets: readonly string[]): CallResult {
  if (secrets.length === 0) return result;
  const { response } = result;
  return {
    ...result,
    error: result.error === null ? null : redactText(result.error, secrets),
    response: response && {
      ...response,
      snippet: redactText(response.snippet, secrets),
      contentType: response.contentType === null ? null : redactText(response.contentType, secrets),
    },
  };
}
