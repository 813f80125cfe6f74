/**
 * The placeholders of an endpoint's body template that a run could not fill (`RunFinished`'s
 * `templateUnresolved`), shown on the run. Null for runs without a template and for runs
 * projected before this column: `npm run projector:rebuild` fills those from the log.
 */
export const id = '0022_rm_runs_template_unresolved';

export const sql = `
  ALTER TABLE rm_runs ADD COLUMN template_unresolved text[];
`;
