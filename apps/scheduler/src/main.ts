import 'reflect-metadata';
import { runApp } from '@cronicorn/platform';
import { SchedulerAppModule } from './scheduler.module';

runApp(SchedulerAppModule, 'scheduler');
