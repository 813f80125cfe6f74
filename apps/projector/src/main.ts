import 'reflect-metadata';
import { runApp } from '@cronicorn/platform';
import { ProjectorModule } from './projector.module';

runApp(ProjectorModule, 'projector');
