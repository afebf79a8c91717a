import { poolLeakSuite } from '../support/suites/pool-leak.js';
import { THROUGH_PGBOUNCER } from '../support/suites/route.js';

poolLeakSuite(THROUGH_PGBOUNCER);
