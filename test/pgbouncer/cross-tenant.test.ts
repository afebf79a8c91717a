import { crossTenantSuite } from '../support/suites/cross-tenant.js';
import { THROUGH_PGBOUNCER } from '../support/suites/route.js';

crossTenantSuite(THROUGH_PGBOUNCER);
