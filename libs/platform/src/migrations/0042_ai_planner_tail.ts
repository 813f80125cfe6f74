/**
 * The ai-planner reads `RunFinished` by tailing the event log (ADR 0031): its event
 * consumer's per-stream versions are no longer read or pruned. Its checkpoint in
 * `consumer_checkpoints` stays: the tail starts from it.
 */
export const id = '0042_ai_planner_tail';

export const sql = `
  DELETE FROM consumer_stream_versions WHERE consumer = 'ai-planner';
`;
