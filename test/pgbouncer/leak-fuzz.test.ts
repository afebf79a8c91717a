import { describe } from 'vitest';
import { leakFuzzSuite } from '../support/suites/leak-fuzz.js';
import { THROUGH_PGBOUNCER } from '../support/suites/route.js';
import { installed } from '../support/programs.js';

// Half the direct run's sequences: the direct run covers the same property at full length.
describe.skipIf(!installed('pgbouncer', 'the PgBouncer tests'))('through PgBouncer', () => {
  leakFuzzSuite(THROUGH_PGBOUNCER, 20);
});
