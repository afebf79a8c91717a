import { poolLeakSuite } from '../support/suites/pool-leak.js';
import { DIRECT } from '../support/suites/route.js';

poolLeakSuite(DIRECT);
