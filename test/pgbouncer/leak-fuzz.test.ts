import { leakFuzzSuite } from '../support/suites/leak-fuzz.js';
import { THROUGH_PGBOUNCER } from '../support/suites/route.js';

// Half the direct run's sequences: the direct run covers the same property at full length.
leakFuzzSuite(THROUGH_PGBOUNCER, 20);
