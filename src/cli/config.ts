import { loadConfigOrExit } from '../config.js';

// tenantql config check: every variable parsed as the server would, nothing started.
const [command] = process.argv.slice(2);
if (command !== 'check') {
  console.error('usage: tenantql config check');
  process.exit(2);
}
loadConfigOrExit();
console.log('the configuration is valid');
