import { NatsNames } from './subjects';

describe('NatsNames', () => {
  it('should use the contract names by default', () => {
    const names = new NatsNames();
    expect(names.eventsStream).toBe('CRONICORN_EVENTS');
    expect(names.dispatchStream).toBe('CRONICORN_DISPATCH');
    expect(
      names.subjectOfEnvelope({ tenantId: 't1', streamId: 'endpoint-ab-cd', type: 'EndpointCreated' }),
    ).toBe('cronicorn.events.t1.endpoint.EndpointCreated');
    expect(names.tenantCategoryFilter('t1', 'run')).toBe('cronicorn.events.t1.run.>');
    expect(names.dispatchSubject('t1', 'e1')).toBe('cronicorn.dispatch.t1.e1');
  });

  it('should keep a namespace apart from the contract subjects', () => {
    const names = new NatsNames('t42');
    expect(names.eventsStream).toBe('T42_CRONICORN_EVENTS');
    expect(names.allEvents).toBe('t42.cronicorn.events.>');
    expect(names.allDispatch).toBe('t42.cronicorn.dispatch.>');
  });
});
