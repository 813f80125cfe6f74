import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { bootstrapApp, BootstrapOptions } from '@cronicorn/platform';
import { API_KEY_HEADER, API_KEY_STRATEGY } from './auth/api-key.strategy';
import { bodyParserErrors } from './common/errors.filter';
import { jsonBodiesOnly, readsAsJson } from './common/json-body';
import { commandApiModule, CommandApiOptions } from './app.module';

/** Largest request body (413 beyond it). */
export const API_BODY_LIMIT = '256kb';

/** Express-level setup bootstrapApp cannot know: body errors, Swagger at /docs and /docs-json. */
export function configureApi(app: NestExpressApplication): void {
  // Registered right after bootstrapApp's body parser, so it sees its errors first.
  app.use(bodyParserErrors);
  app.use(jsonBodiesOnly);
  const document = new DocumentBuilder()
    .setTitle('Cronicorn')
    .setDescription(
      'Adaptive HTTP job scheduler: commands (write side) and queries (read models). ' +
        'Authenticate with the `x-api-key` header. Every POST accepts an `Idempotency-Key` header.',
    )
    .setVersion('1')
    .addApiKey({ type: 'apiKey', name: API_KEY_HEADER, in: 'header' }, API_KEY_STRATEGY)
    .build();
  SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, document), {
    jsonDocumentUrl: 'docs-json',
  });
}

export const apiBootstrapOptions: BootstrapOptions = {
  configure: configureApi,
  bodyLimit: API_BODY_LIMIT,
  jsonBodyType: readsAsJson,
};

/** Creates, configures and starts the API on `config.port` (0: a free port). */
export function startCommandApi(options: CommandApiOptions = {}): Promise<NestExpressApplication> {
  return bootstrapApp(commandApiModule(options), 'command-api', apiBootstrapOptions);
}
