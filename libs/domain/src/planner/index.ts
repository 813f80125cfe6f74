export * from './planner.types';
export * from './planner.tools';
export * from './planner.context';
export * from './planner.apply';
export * from './heuristic-planner';
