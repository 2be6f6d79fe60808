import { refuseServers } from './servers';

/** Required by `.mocharc.unit.json`: the unit run starts no server but the time-skipping test server. */
refuseServers('npm run test:unit does not start (.mocharc.unit.json lists the tests that need none)');
