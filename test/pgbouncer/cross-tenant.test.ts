import { describe } from 'vitest';
import { crossTenantSuite } from '../support/suites/cross-tenant.js';
import { THROUGH_PGBOUNCER } from '../support/suites/route.js';
import { installed } from '../support/programs.js';

describe.skipIf(!installed('pgbouncer', 'the PgBouncer tests'))('through PgBouncer', () => {
  crossTenantSuite(THROUGH_PGBOUNCER);
});
