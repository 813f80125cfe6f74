import { ApiKeyIssued, ApiKeyRevoked, TenantCreated, TenantEvent } from '@cronicorn/events';
import { DeciderSpecification, domainError } from '../testing/decider-spec';
import { TenantCommand } from './tenant.commands';
import { tenantDecider } from './tenant.decider';

const now = new Date('2025-03-10T12:00:00.000Z');
const at = now.toISOString();
const tenantId = 'tenant-1';
const spec = DeciderSpecification.for(tenantDecider);

const created: TenantCreated = { type: 'TenantCreated', data: { tenantId, name: 'Acme', createdAt: at } };
const issued: ApiKeyIssued = {
  type: 'ApiKeyIssued',
  data: { keyId: 'key-1', name: 'ci', keyHash: 'hash-1', prefix: 'cc_ab12', issuedAt: at },
};
const issued2: ApiKeyIssued = {
  type: 'ApiKeyIssued',
  data: { keyId: 'key-2', name: 'spare', keyHash: 'hash-2', prefix: 'cc_cd34', issuedAt: at },
};
const revoked: ApiKeyRevoked = { type: 'ApiKeyRevoked', data: { keyId: 'key-1', revokedAt: at } };

const command = <C extends TenantCommand>(type: C['type'], data: C['data']) =>
  ({ type, data, metadata: { now } }) as C;

const issueKey = (
  overrides: Partial<{ keyId: string; name: string; keyHash: string; prefix: string }> = {},
) =>
  command('IssueApiKey', {
    tenantId,
    keyId: 'key-1',
    name: 'ci',
    keyHash: 'hash-1',
    prefix: 'cc_ab12',
    ...overrides,
  });

describe('Tenant', () => {
  describe('When not created', () => {
    const given: TenantEvent[] = [];

    it('should create the tenant', () => {
      spec
        .given(given)
        .when(command('CreateTenant', { tenantId, name: 'Acme' }))
        .then(created);
    });

    it('should refuse an empty name', () => {
      spec
        .given(given)
        .when(command('CreateTenant', { tenantId, name: '  ' }))
        .thenThrows(domainError('TENANT.INVALID', 'invalid', ['name']));
    });

    it.each([
      ['IssueApiKey', issueKey()],
      ['RevokeApiKey', command('RevokeApiKey', { tenantId, keyId: 'key-1' })],
      [
        'FireTrigger',
        command('FireTrigger', {
          tenantId,
          triggerId: 'tr-1',
          name: 'deploy',
          payload: null,
          endpointIds: [],
        }),
      ],
    ])('should answer not found to %s', (_name, cmd) => {
      spec.given(given).when(cmd).thenThrows(domainError('TENANT.NOT_FOUND', 'not_found'));
    });
  });

  describe('When created', () => {
    const given = [created];

    it('should refuse to create it again', () => {
      spec
        .given(given)
        .when(command('CreateTenant', { tenantId, name: 'Acme' }))
        .thenThrows(domainError('TENANT.ALREADY_EXISTS', 'conflict'));
    });

    it('should issue an API key recording only its hash and prefix', () => {
      spec.given(given).when(issueKey()).then(issued);
    });

    it('should refuse a key without a name or hash', () => {
      spec
        .given(given)
        .when(issueKey({ name: '', keyHash: '' }))
        .thenThrows(domainError('API_KEY.INVALID', 'invalid', ['name', 'keyHash']));
    });

    it('should answer not found when revoking an unknown key', () => {
      spec
        .given(given)
        .when(command('RevokeApiKey', { tenantId, keyId: 'nope' }))
        .thenThrows(domainError('API_KEY.NOT_FOUND', 'not_found'));
    });

    it('should record a fired trigger with its payload and listening endpoints', () => {
      spec
        .given(given)
        .when(
          command('FireTrigger', {
            tenantId,
            triggerId: 'tr-1',
            name: 'deploy.done',
            payload: { sha: 'abc' },
            endpointIds: ['e1', 'e2'],
          }),
        )
        .then({
          type: 'TriggerFired',
          data: {
            triggerId: 'tr-1',
            name: 'deploy.done',
            payload: { sha: 'abc' },
            endpointIds: ['e1', 'e2'],
            firedAt: at,
          },
        });
    });

    it('should record the runs it started and the paused listeners it skipped', () => {
      spec
        .given(given)
        .when(
          command('FireTrigger', {
            tenantId,
            triggerId: 'tr-2',
            name: 'deploy.done',
            payload: null,
            endpointIds: ['e1'],
            runs: [{ endpointId: 'e1', runId: 'r1' }],
            skipped: [
              { endpointId: 'e2', reason: 'endpoint_paused' },
              { endpointId: 'e3', reason: 'job_paused' },
            ],
          }),
        )
        .then({
          type: 'TriggerFired',
          data: {
            triggerId: 'tr-2',
            name: 'deploy.done',
            payload: null,
            endpointIds: ['e1'],
            runs: [{ endpointId: 'e1', runId: 'r1' }],
            skippedEndpointIds: ['e2', 'e3'],
            skipped: [
              { endpointId: 'e2', reason: 'endpoint_paused' },
              { endpointId: 'e3', reason: 'job_paused' },
            ],
            firedAt: at,
          },
        });
    });

    it('should refuse a trigger name with spaces', () => {
      spec
        .given(given)
        .when(
          command('FireTrigger', {
            tenantId,
            triggerId: 'tr-1',
            name: 'bad name',
            payload: null,
            endpointIds: [],
          }),
        )
        .thenThrows(domainError('TRIGGER.INVALID', 'invalid', ['name']));
    });
  });

  describe('When a key is issued', () => {
    const given = [created, issued];

    it('should do nothing when the same key is issued again', () => {
      spec.given(given).when(issueKey()).thenNothing();
    });

    it('should refuse another key under the same id', () => {
      spec
        .given(given)
        .when(issueKey({ keyHash: 'hash-2' }))
        .thenThrows(domainError('API_KEY.ALREADY_EXISTS', 'conflict'));
    });

    it('should refuse to revoke it, the last active key, so the tenant cannot lock itself out', () => {
      spec
        .given(given)
        .when(command('RevokeApiKey', { tenantId, keyId: 'key-1' }))
        .thenThrows(domainError('API_KEY.LAST_KEY', 'conflict'));
    });

    it('should refuse it too when every other key is revoked', () => {
      spec
        .given([...given, issued2, { type: 'ApiKeyRevoked', data: { keyId: 'key-2', revokedAt: at } }])
        .when(command('RevokeApiKey', { tenantId, keyId: 'key-1' }))
        .thenThrows(domainError('API_KEY.LAST_KEY', 'conflict'));
    });
  });

  describe('When two keys are issued', () => {
    const given = [created, issued, issued2];

    it('should revoke either of them', () => {
      spec
        .given(given)
        .when(command('RevokeApiKey', { tenantId, keyId: 'key-1' }))
        .then(revoked);
    });

    it('should refuse the second revoke once the first is recorded', () => {
      spec
        .given([...given, revoked])
        .when(command('RevokeApiKey', { tenantId, keyId: 'key-2' }))
        .thenThrows(domainError('API_KEY.LAST_KEY', 'conflict'));
    });
  });

  describe('When a key is revoked', () => {
    it('should do nothing when it is revoked again', () => {
      spec
        .given([created, issued, issued2, revoked])
        .when(command('RevokeApiKey', { tenantId, keyId: 'key-1' }))
        .thenNothing();
    });

    it('should keep it in the state as revoked', () => {
      const state = [created, issued, revoked].reduce(tenantDecider.evolve, tenantDecider.initialState());
      expect(state.status === 'active' && state.keys.get('key-1')).toEqual({
        keyId: 'key-1',
        name: 'ci',
        keyHash: 'hash-1',
        prefix: 'cc_ab12',
        issuedAt: at,
        revoked: true,
      });
    });
  });
});
