import 'reflect-metadata';
import { runApp } from '@cronicorn/platform';
import { AiPlannerAppModule } from './ai-planner.module';

runApp(AiPlannerAppModule, 'ai-planner');
