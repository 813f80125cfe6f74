import './threadpool';
import 'reflect-metadata';
import { runApp } from '@cronicorn/platform';
import { DispatcherModule } from './dispatcher.module';

runApp(DispatcherModule, 'dispatcher');
