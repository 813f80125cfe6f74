import { Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { CreateSubscriptionHandler } from './create-subscription/create-subscription.handler';
import { CreateSubscriptionHttpController } from './create-subscription/create-subscription.http.controller';
import { DeleteSubscriptionHandler } from './delete-subscription/delete-subscription.handler';
import { DeleteSubscriptionHttpController } from './delete-subscription/delete-subscription.http.controller';
import { ListDeliveriesHttpController } from './list-deliveries/list-deliveries.http.controller';
import { ListSubscriptionsHttpController } from './list-subscriptions/list-subscriptions.http.controller';
import { subscriptionSecretBoxProvider } from './secret-box.provider';
import { RedeliverDeliveriesHandler } from './redeliver-deliveries/redeliver-deliveries.handler';
import { RedeliverDeliveriesHttpController } from './redeliver-deliveries/redeliver-deliveries.http.controller';
import { SubscriptionRepository } from './subscription.repository';

const httpControllers = [
  CreateSubscriptionHttpController,
  ListSubscriptionsHttpController,
  ListDeliveriesHttpController,
  DeleteSubscriptionHttpController,
  RedeliverDeliveriesHttpController,
];
const commandHandlers = [CreateSubscriptionHandler, DeleteSubscriptionHandler, RedeliverDeliveriesHandler];
const repositories = [SubscriptionRepository, subscriptionSecretBoxProvider];

/** Outbound webhook subscriptions: tenant configuration recorded on the tenant stream. */
@Module({
  imports: [CqrsModule],
  controllers: [...httpControllers],
  providers: [...repositories, ...commandHandlers],
})
export class SubscriptionsModule {}
