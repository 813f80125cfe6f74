import { MAX_JSON_DEPTH } from '../resources/request-validation';
import { NOT_ACCEPTED } from './validation';

/**
 * Keys the ValidationPipe deletes at any depth against prototype pollution. Deleted, they would
 * vanish from a stored request body without a word; they are refused by name instead.
 */
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const RESERVED = 'is a reserved key (__proto__, constructor and prototype are refused)';
const TOO_DEEP = `must not nest deeper than ${MAX_JSON_DEPTH} levels`;
const MAX_PROBLEMS = 20;

/**
 * What the ValidationPipe would silently drop or could not walk (its recursion overflows the
 * stack long before the body limit): `path → problem`, empty when the input is fine. Walked
 * without recursion; a field's depth counts as `MAX_JSON_DEPTH` does for free-form JSON.
 */
export function inputShapeProblems(input: object): Map<string, string> {
  const problems = new Map<string, string>();
  const pending: { value: unknown; path: string; field: string; depth: number }[] = [];
  for (const [key, value] of Object.entries(input)) {
    if (RESERVED_KEYS.has(key)) problems.set(key, NOT_ACCEPTED);
    else pending.push({ value, path: key, field: key, depth: 0 });
  }
  while (pending.length > 0 && problems.size < MAX_PROBLEMS) {
    const { value, path, field, depth } = pending.pop()!;
    if (typeof value !== 'object' || value === null || problems.has(field)) continue;
    if (depth >= MAX_JSON_DEPTH) {
      problems.set(field, TOO_DEEP);
      continue;
    }
    for (const [key, child] of Object.entries(value)) {
      const childPath = `${path}.${key}`;
      if (RESERVED_KEYS.has(key) && !Array.isArray(value)) problems.set(childPath, RESERVED);
      else pending.push({ value: child, path: childPath, field, depth: depth + 1 });
    }
  }
  return problems;
}
