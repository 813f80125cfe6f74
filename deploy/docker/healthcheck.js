// Docker HEALTHCHECK: GET <path> (default /healthz) on this container's app port, exit 0 on
// a 2xx. The slim Node image has no curl or wget.
/* global fetch, AbortSignal */
const path = require('node:path');
const { DEFAULT_PORTS, portVariable } = require(
  path.join(__dirname, '..', '..', 'dist', 'libs', 'platform', 'src', 'config.js'),
);

const app = process.env.APP;
const port = process.env[portVariable(app)] || DEFAULT_PORTS[app];
const route = process.argv[2] || '/healthz';

fetch(`http://127.0.0.1:${port}${route}`, { signal: AbortSignal.timeout(4000) }).then(
  (res) => process.exit(res.ok ? 0 : 1),
  () => process.exit(1),
);
