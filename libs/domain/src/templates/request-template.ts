import { invalid } from '../core/errors';

// A deliberately tiny template language for request bodies: `{{trigger.payload.orderId}}`,
// `{{previousRun.response.json.cursor}}`. Placeholders are property paths, never code; only
// own properties are followed, so `__proto__` or `constructor` lead nowhere.

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)*)\s*\}\}/g;
const WHOLE_PLACEHOLDER = /^\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)*)\s*\}\}$/;
const FORBIDDEN_KEYS = new Set(['__proto__', 'prototype', 'constructor']);

/**
 * Text the placeholders of one template may insert in total (a whole value counts as its JSON):
 * room for many copies of a trigger payload, while a body of thousands of placeholders cannot
 * make a run send hundreds of megabytes.
 */
export const MAX_INSERTED_CHARS = 1024 * 1024;

export interface RenderOptions {
  /**
   * A string template is JSON text (the request says `application/json` or `…+json`): a
   * placeholder inside one of its string literals inserts the value escaped for it, one
   * outside inserts the value as JSON, so a value cannot break out of its place.
   */
  jsonText?: boolean;
}

export interface RenderedTemplate {
  value: unknown;
  /** Paths that resolved to nothing; they rendered empty (or null for a whole value). */
  unresolved: string[];
}

/** Looks a dotted path up in `context`, or returns `undefined`. Array indexes are numbers. */
export function resolvePath(context: unknown, path: string): unknown {
  let current: unknown = context;
  for (const key of path.split('.')) {
    if (FORBIDDEN_KEYS.has(key) || current === null || typeof current !== 'object') return undefined;
    if (!Object.prototype.hasOwnProperty.call(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/**
 * Renders every string inside `template` (any JSON value). A string that is exactly one
 * placeholder takes the referenced value with its type (a number stays a number, an object
 * stays an object); a placeholder inside a longer string is interpolated as text, or, in a
 * template of JSON text (`jsonText`), as JSON. Throws `TEMPLATE.TOO_LARGE` as soon as the
 * placeholders would insert more than `MAX_INSERTED_CHARS`.
 */
export function renderTemplate(
  template: unknown,
  context: Record<string, unknown>,
  options: RenderOptions = {},
): RenderedTemplate {
  const unresolved = new Set<string>();
  let inserted = 0;

  const count = (length: number) => {
    inserted += length;
    if (inserted > MAX_INSERTED_CHARS) {
      throw invalid(
        'TEMPLATE.TOO_LARGE',
        `the body template's placeholders insert more than ${MAX_INSERTED_CHARS} characters in total`,
      );
    }
  };

  const lookup = (path: string): unknown => {
    const value = resolvePath(context, path);
    if (value === undefined) unresolved.add(path);
    return value;
  };

  const asText = (value: unknown): string => {
    if (value === undefined || value === null) return '';
    return typeof value === 'string' ? value : JSON.stringify(value);
  };

  const renderString = (text: string): unknown => {
    const whole = WHOLE_PLACEHOLDER.exec(text);
    if (whole) {
      const value = lookup(whole[1]) ?? null;
      count(JSON.stringify(value).length);
      return value;
    }
    return text.replace(PLACEHOLDER, (_match, path: string) => {
      const piece = asText(lookup(path));
      count(piece.length);
      return piece;
    });
  };

  const renderJsonText = (text: string): string => {
    const scanner = new JsonTextScanner();
    return text.replace(PLACEHOLDER, (_match, path: string, offset: number) => {
      const value = lookup(path);
      const place = scanner.placeAt(text, offset);
      const escaped = JSON.stringify(asText(value)).slice(1, -1);
      // A lone backslash before the placeholder would escape the value's first character (a
      // quote could then close the string): it is written as a backslash of its own.
      const piece =
        place === 'outside' ? JSON.stringify(value ?? null) : place === 'escaping' ? `\\${escaped}` : escaped;
      count(piece.length);
      return piece;
    });
  };

  const render = (node: unknown): unknown => {
    if (typeof node === 'string') return renderString(node);
    if (Array.isArray(node)) return node.map(render);
    if (node !== null && typeof node === 'object') {
      return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, render(value)]));
    }
    return node;
  };

  const value =
    options.jsonText && typeof template === 'string' ? renderJsonText(template) : render(template);
  return { value, unresolved: [...unresolved] };
}

/** A position of JSON text: outside a string literal, inside one, or inside right after a lone backslash. */
type JsonTextPlace = 'outside' | 'inside' | 'escaping';

/** Tells where positions of JSON text are, read left to right once. */
class JsonTextScanner {
  private scanned = 0;
  private inside = false;

  placeAt(text: string, offset: number): JsonTextPlace {
    for (; this.scanned < offset; this.scanned++) {
      const char = text[this.scanned];
      if (this.inside && char === '\\') {
        if (this.scanned + 1 === offset) {
          this.scanned = offset;
          return 'escaping';
        }
        this.scanned++;
      } else if (char === '"') this.inside = !this.inside;
    }
    return this.inside ? 'inside' : 'outside';
  }
}

/** True when `template` contains at least one placeholder anywhere. */
export function hasPlaceholders(template: unknown): boolean {
  if (typeof template === 'string') return new RegExp(PLACEHOLDER.source).test(template);
  if (Array.isArray(template)) return template.some(hasPlaceholders);
  if (template !== null && typeof template === 'object') return Object.values(template).some(hasPlaceholders);
  return false;
}
