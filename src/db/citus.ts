/**
 * How each table of schema app lives on a Citus cluster (README, "Scaling out").
 * test/db/distributable.test.ts fails when a table is missing here or the order breaks a key.
 */

/** Copied to every node: small, read by every tenant's statements, referenced by tenant tables. */
export const CITUS_REFERENCE_TABLES = ['plans', 'tenants', 'users', 'project_workflow'] as const;

/** Stay on the coordinator (Citus-managed local tables): accounts' and operators' rows. */
export const CITUS_COORDINATOR_TABLES = [
  'audit_log',
  'refresh_tokens',
  'account_tokens',
  'account_emails',
  'external_identities',
] as const;

/**
 * Distributed by tenant_id, all co-located with the first, so every join and foreign key between
 * them stays on one node. Each comes after every table it references.
 */
export const CITUS_DISTRIBUTED_TABLES = [
  'memberships',
  'projects',
  'tasks',
  'comments',
  'project_transitions',
  'notifications',
  'notification_channels',
  'notification_deliveries',
  'api_keys',
  'activity',
  'invitations',
] as const;
