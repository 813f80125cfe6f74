// Container entry: runs the app named by APP in this process (no shell in between, so
// SIGTERM reaches Nest's shutdown hooks directly).
const path = require('node:path');

const APPS = ['command-api', 'scheduler', 'dispatcher', 'ai-planner', 'projector'];
const app = process.env.APP;

if (!APPS.includes(app)) {
  console.error(`APP must be one of ${APPS.join(', ')}; got "${app ?? ''}"`);
  process.exit(64);
}

require(path.join(__dirname, '..', '..', 'dist', 'apps', app, 'src', 'main.js'));
