// Three tiers by file suffix (STYLE.md §7). `npm test` runs all of them in one process.
// Type checks are `npm run typecheck`'s job; ts-jest only transpiles (tsconfig.jest.json's isolatedModules).
const moduleNameMapper = {
  '^@cronicorn/(events|domain|event-store|messaging|platform|testing|read-models)$': '<rootDir>/libs/$1/src',
};
const base = {
  rootDir: __dirname,
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper,
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
};
module.exports = {
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs,scripts,test,bench}/**/*.unit.spec.ts'] },
    { ...base, displayName: 'int', testMatch: ['<rootDir>/{apps,libs,scripts}/**/*.int.spec.ts'] },
    {
      ...base,
      displayName: 'e2e',
      testMatch: ['<rootDir>/{apps,libs,scripts,test}/**/*.e2e.spec.ts'],
      globalSetup: '<rootDir>/test/build-once.js',
    },
  ],
};
