import { crossTenantSuite } from '../support/suites/cross-tenant.js';
import { DIRECT } from '../support/suites/route.js';

crossTenantSuite(DIRECT);
