import { describe } from 'vitest';
import { poolLeakSuite } from '../support/suites/pool-leak.js';
import { THROUGH_PGBOUNCER } from '../support/suites/route.js';
import { installed } from '../support/programs.js';

describe.skipIf(!installed('pgbouncer', 'the PgBouncer tests'))('through PgBouncer', () => {
  poolLeakSuite(THROUGH_PGBOUNCER);
});
