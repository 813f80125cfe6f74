/**
 * The projector reads the event log itself (ADR 0031): its event consumer's per-stream
 * versions are no longer read or pruned (the read models keep their own, `rm_stream_versions`).
 * Its checkpoint in `consumer_checkpoints` stays: the tail starts from it.
 */
export const id = '0025_projector_tail';

export const sql = `
  DELETE FROM consumer_stream_versions WHERE consumer = 'projector';
`;
