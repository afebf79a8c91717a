import { leakFuzzSuite } from '../support/suites/leak-fuzz.js';
import { DIRECT } from '../support/suites/route.js';

leakFuzzSuite(DIRECT, 40);
