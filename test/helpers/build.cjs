/**
 * jest globalSetup: build the package once (`npm run build`: tsup, as `npm pack` does through
 * prepack), so that the tests that install it as users do (test/helpers/package.ts) use the real build.
 */
const { execFileSync } = require('node:child_process');
const { join } = require('node:path');

module.exports = function buildPackage() {
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: join(__dirname, '..', '..'), stdio: 'ignore' });
};
