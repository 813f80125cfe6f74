import { Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { IssueApiKeyHandler } from './issue-api-key/issue-api-key.handler';
import { IssueApiKeyHttpController } from './issue-api-key/issue-api-key.http.controller';
import { ListApiKeysHttpController } from './list-api-keys/list-api-keys.http.controller';
import { RevokeApiKeyHandler } from './revoke-api-key/revoke-api-key.handler';
import { RevokeApiKeyHttpController } from './revoke-api-key/revoke-api-key.http.controller';

const httpControllers = [IssueApiKeyHttpController, ListApiKeysHttpController, RevokeApiKeyHttpController];
const commandHandlers = [IssueApiKeyHandler, RevokeApiKeyHandler];

@Module({ imports: [CqrsModule], controllers: [...httpControllers], providers: [...commandHandlers] })
export class ApiKeysModule {}
