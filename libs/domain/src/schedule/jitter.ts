/**
 * A deterministic offset in [0, `jitterMs`] for one slot of one endpoint (FNV-1a of the
 * endpoint id and the slot). Re-planning the same slot always yields the same run time, so a
 * stored plan that comes due is recognised as due; different endpoints on the same cron
 * spread over the window.
 */
export function jitterOffsetMs(endpointId: string, slot: Date, jitterMs: number): number {
  if (!(jitterMs > 0)) return 0;
  return fnv1a(`${endpointId}|${slot.toISOString()}`) % (Math.floor(jitterMs) + 1);
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
