import 'reflect-metadata';
import { runApp } from '@cronicorn/platform';
import { apiBootstrapOptions } from './api';
import { commandApiModule } from './app.module';

runApp(commandApiModule(), 'command-api', apiBootstrapOptions);
