// e2e suites run the real apps as child processes from dist/: build once per jest run.
const { execFileSync } = require('node:child_process');
const path = require('node:path');

module.exports = async function buildOnce() {
  if (process.env.CRONICORN_SKIP_BUILD === 'true') return;
  const started = Date.now();
  execFileSync(process.execPath, [path.join(__dirname, '..', 'scripts', 'build.mjs')], { stdio: 'inherit' });
  console.log(`\nbuilt dist/ for e2e suites in ${((Date.now() - started) / 1000).toFixed(1)} s`);
};
