import { DIRECT } from '../support/suites/route.js';
import { statementTimeoutSuite } from '../support/suites/statement-timeout.js';

statementTimeoutSuite(DIRECT);
