import { ResourceIdPipe } from '../resources/resource-id.pipe';

export const SubscriptionIdPipe = new ResourceIdPipe('SUBSCRIPTION.NOT_FOUND', 'Subscription');
