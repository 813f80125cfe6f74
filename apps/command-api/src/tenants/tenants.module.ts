import { Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { CreateTenantHandler } from './create-tenant/create-tenant.handler';
import { CreateTenantHttpController } from './create-tenant/create-tenant.http.controller';

const httpControllers = [CreateTenantHttpController];
const commandHandlers = [CreateTenantHandler];

@Module({ imports: [CqrsModule], controllers: [...httpControllers], providers: [...commandHandlers] })
export class TenantsModule {}
