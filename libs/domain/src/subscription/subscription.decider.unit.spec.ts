import {
  ApiKeyIssued,
  TenantCreated,
  TenantEvent,
  WebhookSubscriptionCreated,
  WebhookSubscriptionDeleted,
} from '@cronicorn/events';
import { DeciderSpecification, domainError } from '../testing/decider-spec';
import { SubscriptionCommand } from './subscription.commands';
import { SUBSCRIPTION_LIMITS, subscriptionDecider, subscriptionMatches } from './subscription.decider';
import { activeSubscriptions } from './subscription.state';

const now = new Date('2025-03-10T12:00:00.000Z');
const at = now.toISOString();
const tenantId = 'tenant-1';
const spec = DeciderSpecification.for(subscriptionDecider);

const tenantCreated: TenantCreated = {
  type: 'TenantCreated',
  data: { tenantId, name: 'Acme', createdAt: at },
};
const keyIssued: ApiKeyIssued = {
  type: 'ApiKeyIssued',
  data: { keyId: 'k1', name: 'default', keyHash: 'h', prefix: 'p', issuedAt: at },
};

const command = <C extends SubscriptionCommand>(type: C['type'], data: C['data']) =>
  ({ type, data, metadata: { now } }) as C;

const create = (
  overrides: Partial<{ subscriptionId: string; url: string; eventTypes: string[]; secret: string }> = {},
) =>
  command('CreateWebhookSubscription', {
    tenantId,
    subscriptionId: 'sub-1',
    url: 'https://hooks.example.com/cronicorn',
    eventTypes: ['RunFinished'],
    secret: 'enc:v1:secret',
    ...overrides,
  });

const redeliver = (since: string | null, subscriptionId = 'sub-1') =>
  command('RedeliverWebhookDeliveries', { tenantId, subscriptionId, since });

const created: WebhookSubscriptionCreated = {
  type: 'WebhookSubscriptionCreated',
  data: {
    subscriptionId: 'sub-1',
    url: 'https://hooks.example.com/cronicorn',
    eventTypes: ['RunFinished'],
    secret: 'enc:v1:secret',
    createdAt: at,
  },
};
const deleted: WebhookSubscriptionDeleted = {
  type: 'WebhookSubscriptionDeleted',
  data: { subscriptionId: 'sub-1', deletedAt: at },
};

describe('Webhook subscriptions', () => {
  describe('When the tenant does not exist', () => {
    it('should answer not found', () => {
      spec.given([]).when(create()).thenThrows(domainError('TENANT.NOT_FOUND', 'not_found'));
    });
  });

  describe('When the tenant exists', () => {
    const given: TenantEvent[] = [tenantCreated, keyIssued];

    it('should record the subscription', () => {
      spec.given(given).when(create()).then(created);
    });

    it('should accept "*" and drop repeated types', () => {
      spec
        .given(given)
        .when(create({ eventTypes: ['*', 'RunFinished', '*'] }))
        .then({ ...created, data: { ...created.data, eventTypes: ['*', 'RunFinished'] } });
    });

    it.each([
      ['a ftp URL', { url: 'ftp://example.com/x' }, ['url']],
      ['a relative URL', { url: '/hooks' }, ['url']],
      ['credentials in the URL', { url: 'https://u:p@example.com/' }, ['url']],
      ['no event types', { eventTypes: [] }, ['eventTypes']],
      ['an unknown event type', { eventTypes: ['RunFinished', 'RunExploded'] }, ['eventTypes']],
      ['an empty secret', { secret: '' }, ['secret']],
    ])('should refuse %s', (_name, overrides, fields) => {
      spec
        .given(given)
        .when(create(overrides))
        .thenThrows(domainError('SUBSCRIPTION.INVALID', 'invalid', fields));
    });

    it('should refuse more active subscriptions than the limit', () => {
      const many: TenantEvent[] = Array.from({ length: SUBSCRIPTION_LIMITS.maxActive }, (_, i) => ({
        ...created,
        data: { ...created.data, subscriptionId: `s${i}` },
      }));
      spec
        .given([...given, ...many])
        .when(create({ subscriptionId: 'one-more' }))
        .thenThrows(domainError('SUBSCRIPTION.LIMIT_REACHED', 'conflict'));
    });

    it('should answer not found when deleting an unknown subscription', () => {
      spec
        .given(given)
        .when(command('DeleteWebhookSubscription', { tenantId, subscriptionId: 'nope' }))
        .thenThrows(domainError('SUBSCRIPTION.NOT_FOUND', 'not_found'));
    });
  });

  describe('When a subscription exists', () => {
    const given: TenantEvent[] = [tenantCreated, created];

    it('should do nothing when the same subscription is created again', () => {
      spec.given(given).when(create()).thenNothing();
    });

    it('should refuse another subscription under the same id', () => {
      spec
        .given(given)
        .when(create({ url: 'https://elsewhere.example.com/' }))
        .thenThrows(domainError('SUBSCRIPTION.ALREADY_EXISTS', 'conflict'));
    });

    it('should delete it', () => {
      spec
        .given(given)
        .when(command('DeleteWebhookSubscription', { tenantId, subscriptionId: 'sub-1' }))
        .then(deleted);
    });

    it('should ask for its failed deliveries again, from an instant given with any offset', () => {
      spec
        .given(given)
        .when(redeliver('2025-03-10T13:00:00+02:00'))
        .then({
          type: 'WebhookRedeliveryRequested',
          data: { subscriptionId: 'sub-1', since: '2025-03-10T11:00:00.000Z', requestedAt: at },
        });
      spec
        .given(given)
        .when(redeliver(null))
        .then({
          type: 'WebhookRedeliveryRequested',
          data: { subscriptionId: 'sub-1', since: null, requestedAt: at },
        });
    });

    it('should refuse a redelivery from a time without an offset, naming the field', () => {
      spec
        .given(given)
        .when(redeliver('2025-03-10T11:00:00'))
        .thenThrows(domainError('SUBSCRIPTION.INVALID', 'invalid', ['since']));
    });

    it('should answer not found when redelivering for an unknown subscription', () => {
      spec
        .given(given)
        .when(redeliver(null, 'nope'))
        .thenThrows(domainError('SUBSCRIPTION.NOT_FOUND', 'not_found'));
    });
  });

  describe('When a subscription is deleted', () => {
    const given: TenantEvent[] = [tenantCreated, created, deleted];

    it('should do nothing when it is deleted again', () => {
      spec
        .given(given)
        .when(command('DeleteWebhookSubscription', { tenantId, subscriptionId: 'sub-1' }))
        .thenNothing();
    });

    it('should refuse to redeliver', () => {
      spec.given(given).when(redeliver(null)).thenThrows(domainError('SUBSCRIPTION.DELETED', 'conflict'));
    });

    it('should no longer count it as active', () => {
      const state = given.reduce(subscriptionDecider.evolve, subscriptionDecider.initialState());
      expect(activeSubscriptions(state)).toEqual([]);
    });
  });

  describe('Matching', () => {
    it('should match listed types and "*" only', () => {
      expect(subscriptionMatches(['RunFinished'], 'RunFinished')).toBe(true);
      expect(subscriptionMatches(['RunFinished'], 'RunStarted')).toBe(false);
      expect(subscriptionMatches(['*'], 'JobCreated')).toBe(true);
    });
  });
});
