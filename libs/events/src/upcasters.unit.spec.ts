import { CURRENT_SCHEMA_VERSION } from './catalogue';
import { UpcasterRegistry } from './upcasters';

describe('UpcasterRegistry', () => {
  const original = CURRENT_SCHEMA_VERSION.JobCreated;
  afterEach(() => {
    CURRENT_SCHEMA_VERSION.JobCreated = original;
  });

  it('should pass current events through unchanged', () => {
    const event = { type: 'JobCreated', schemaVersion: 1, data: { jobId: 'j1', name: 'n' } };
    expect(new UpcasterRegistry().upcast(event)).toEqual(event);
  });

  it('should chain upcasters up to the current version', () => {
    CURRENT_SCHEMA_VERSION.JobCreated = 3;
    const registry = new UpcasterRegistry([
      { type: 'JobCreated', fromVersion: 1, upcast: (d) => ({ ...(d as object), description: null }) },
      { type: 'JobCreated', fromVersion: 2, upcast: (d) => ({ ...(d as object), tags: [] }) },
    ]);
    const upcast = registry.upcast({
      type: 'JobCreated',
      schemaVersion: 1,
      data: { jobId: 'j1', name: 'n' },
    });
    expect(upcast).toEqual({
      type: 'JobCreated',
      schemaVersion: 3,
      data: { jobId: 'j1', name: 'n', description: null, tags: [] },
    });
  });

  it('should fail loudly when a step is missing', () => {
    CURRENT_SCHEMA_VERSION.JobCreated = 2;
    expect(() => new UpcasterRegistry().upcast({ type: 'JobCreated', schemaVersion: 1, data: {} })).toThrow(
      /No upcaster for JobCreated from schema version 1/,
    );
  });
});
