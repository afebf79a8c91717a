import type { ColumnType, Generated } from 'kysely';

// Column types as the API role sees them. Timestamps come back as Date; `date` columns as strings
// (see the type parser in pool.ts) so a due date never shifts with the server's time zone.
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type DefaultedUuid = ColumnType<string, string | undefined, never>;

export type MembershipRoleValue = 'owner' | 'admin' | 'member' | 'viewer';
export type TenantStatusValue = 'active' | 'suspended';
export type PlanValue = 'free' | 'pro' | 'enterprise';
export type ProjectStatusValue =
  'DRAFT' | 'SUBMITTED' | 'APPROVED' | 'REJECTED' | 'ACTIVE' | 'COMPLETED' | 'ARCHIVED';
export type TaskStatusValue = 'TODO' | 'IN_PROGRESS' | 'DONE';
export type TaskPriorityValue = 'LOW' | 'MEDIUM' | 'HIGH' | 'URGENT';

export interface TenantsTable {
  id: Generated<string>;
  slug: string;
  name: string;
  plan: ColumnType<PlanValue, never, PlanValue>;
  status: ColumnType<TenantStatusValue, never, TenantStatusValue>;
  settings: ColumnType<Record<string, unknown>, string | undefined, string>;
  /** Operator overrides of the plan's limits (NULL: the plan's); only the admin role writes them. */
  max_members: ColumnType<number | null, never, number | null>;
  max_projects: ColumnType<number | null, never, number | null>;
  max_tasks: ColumnType<number | null, never, number | null>;
  requests_per_minute: ColumnType<number | null, never, number | null>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

/** Plan defaults (sql/0008_admin.sql); NULL means unlimited. Read-only to every API role. */
export interface PlansTable {
  plan: ColumnType<PlanValue, never, never>;
  max_members: ColumnType<number | null, never, never>;
  max_projects: ColumnType<number | null, never, never>;
  max_tasks: ColumnType<number | null, never, never>;
  requests_per_minute: ColumnType<number | null, never, never>;
}

export interface UsersTable {
  id: Generated<string>;
  email: string;
  name: string;
  is_platform_admin: ColumnType<boolean, never, never>;
  /** Written only by the functions that prove the address (sql/0014). */
  email_verified_at: ColumnType<Date | null, never, never>;
  /** Access tokens issued before this are refused; only ever moves forward. */
  tokens_valid_after: ColumnType<Date, never, Date>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

/** Written by the API, never readable by it (column grants); selected only via app.find_login. */
export interface UserPasswordColumns {
  password_hash: ColumnType<never, string, string>;
}

export interface MembershipsTable {
  tenant_id: string;
  user_id: string;
  role: MembershipRoleValue;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface ProjectsTable {
  tenant_id: DefaultedUuid;
  id: Generated<string>;
  key: string;
  name: string;
  description: Generated<string>;
  status: Generated<ProjectStatusValue>;
  created_by: ColumnType<string | null, never, never>;
  created_at: Generated<Date>;
  updated_at: Timestamp;
}

export interface TasksTable {
  tenant_id: DefaultedUuid;
  id: Generated<string>;
  project_id: string;
  title: string;
  description: Generated<string>;
  status: Generated<TaskStatusValue>;
  priority: Generated<TaskPriorityValue>;
  assignee_id: string | null;
  due_date: string | null;
  created_by: ColumnType<string | null, never, never>;
  created_at: Generated<Date>;
  updated_at: Timestamp;
}

export interface CommentsTable {
  tenant_id: DefaultedUuid;
  id: Generated<string>;
  task_id: string;
  author_id: ColumnType<string | null, never, never>;
  body: string;
  created_at: Generated<Date>;
  updated_at: Timestamp;
}

export interface AuditLogTable {
  id: Generated<string>;
  tenant_id: string | null;
  actor_id: string | null;
  action: string;
  reason: string;
  request_id: string | null;
  details: ColumnType<Record<string, unknown>, string | undefined, never>;
  created_at: Generated<Date>;
}

export interface RefreshTokensTable {
  user_id: ColumnType<string, string, never>;
  id: ColumnType<string, string, never>;
  family_id: ColumnType<string, string, never>;
  expires_at: ColumnType<Date, Date, never>;
  used_at: ColumnType<Date | null, never, Date | string>;
  revoked_at: ColumnType<Date | null, never, Date | string>;
  created_at: Generated<Date>;
}

export interface ProjectWorkflowTable {
  from_status: ProjectStatusValue;
  to_status: ProjectStatusValue;
  min_role: MembershipRoleValue;
}

export interface ProjectTransitionsTable {
  tenant_id: DefaultedUuid;
  id: Generated<string>;
  project_id: string;
  from_status: ProjectStatusValue;
  to_status: ProjectStatusValue;
  actor_id: ColumnType<string | null, never, never>;
  comment: string;
  created_at: Generated<Date>;
}

export interface NotificationsTable {
  tenant_id: DefaultedUuid;
  id: Generated<string>;
  recipient_id: string;
  kind: string;
  actor_id: ColumnType<string | null, never, never>;
  project_id: string | null;
  task_id: string | null;
  comment_id: string | null;
  payload: ColumnType<Record<string, unknown>, string | undefined, never>;
  read_at: ColumnType<Date | null, never, Date>;
  created_at: Generated<Date>;
}

/** Written only by the app.record_activity() triggers; the API role reads it. */
export interface ActivityTable {
  tenant_id: ColumnType<string, never, never>;
  id: ColumnType<string, never, never>;
  entity_type: ColumnType<string, never, never>;
  entity_id: ColumnType<string, never, never>;
  action: ColumnType<string, never, never>;
  changed_fields: ColumnType<string[], never, never>;
  label: ColumnType<string | null, never, never>;
  actor_id: ColumnType<string | null, never, never>;
  /** The API key the change was made with, if any (sql/0017). */
  api_key_id: ColumnType<string | null, never, never>;
  created_at: ColumnType<Date, never, never>;
}

/**
 * API keys (sql/0017): the API inserts them and sets revoked_at; it never reads secret_hash
 * back (no column grant), and last_used_at is written by app.record_api_key_use only.
 */
export interface ApiKeysTable {
  tenant_id: ColumnType<string, string, never>;
  id: ColumnType<string, string | undefined, never>;
  name: ColumnType<string, string, never>;
  role: ColumnType<MembershipRoleValue, MembershipRoleValue, never>;
  prefix: ColumnType<string, string, never>;
  secret_hash: ColumnType<never, Buffer, never>;
  created_by: ColumnType<string | null, string, never>;
  created_at: ColumnType<Date, never, never>;
  expires_at: ColumnType<Date | null, Date | null | undefined, never>;
  revoked_at: ColumnType<Date | null, never, Date>;
  last_used_at: ColumnType<Date | null, never, never>;
}

export type NotificationChannelValue = 'WEBHOOK' | 'EMAIL';
export type DeliveryStatusValue = 'pending' | 'delivered' | 'dead';

export interface NotificationChannelsTable {
  tenant_id: DefaultedUuid;
  id: Generated<string>;
  channel: ColumnType<NotificationChannelValue, NotificationChannelValue, never>;
  enabled: ColumnType<boolean, boolean, boolean>;
  kinds: ColumnType<string[], string[] | undefined, string[]>;
  url: ColumnType<string | null, string | null | undefined, string | null>;
  /** Write-only for the API role: no column grant lets it read the secret back. */
  secret: ColumnType<never, string | undefined, string>;
  /** Until when the secret replaced by the last rotation still signs too (sql/0031). */
  previous_secret_expires_at: ColumnType<Date | null, never, Date | null>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

/** Read-only for the API role: the enqueue trigger and the worker's functions write it. */
export interface NotificationDeliveriesTable {
  tenant_id: ColumnType<string, never, never>;
  id: ColumnType<string, never, never>;
  notification_id: ColumnType<string | null, never, never>;
  channel: ColumnType<NotificationChannelValue, never, never>;
  kind: ColumnType<string, never, never>;
  recipient_id: ColumnType<string | null, never, never>;
  payload: ColumnType<Record<string, unknown>, never, never>;
  status: ColumnType<DeliveryStatusValue, never, never>;
  attempts: ColumnType<number, never, never>;
  next_attempt_at: ColumnType<Date, never, never>;
  last_attempt_at: ColumnType<Date | null, never, never>;
  last_error: ColumnType<string | null, never, never>;
  last_http_status: ColumnType<number | null, never, never>;
  delivered_at: ColumnType<Date | null, never, never>;
  created_at: ColumnType<Date, never, never>;
}

/** One-time tokens: the API inserts verification tokens and never reads any (sql/0014). */
export interface AccountTokensTable {
  token_hash: ColumnType<Buffer, Buffer, never>;
  user_id: ColumnType<string, string, never>;
  purpose: ColumnType<'verify_email' | 'reset_password', 'verify_email', never>;
  email: ColumnType<string, string, never>;
  expires_at: ColumnType<Date, Date, never>;
}

export type AccountEmailKindValue = 'VERIFY_EMAIL' | 'PASSWORD_RESET' | 'INVITATION';

/** The account-email outbox: insert-only for the API; the delivery worker sends (sql/0014). */
export interface AccountEmailsTable {
  kind: ColumnType<AccountEmailKindValue, AccountEmailKindValue, never>;
  recipient: ColumnType<string, string, never>;
  subject: ColumnType<string, string, never>;
  body: ColumnType<string, string, never>;
}

/**
 * Invitations (sql/0015): the API writes and reads them, except token_hash, which it may set but
 * never read back. invited_by and last_sent_at follow whoever mailed the current link (defaults,
 * and a trigger when the link changes).
 */
export interface InvitationsTable {
  tenant_id: ColumnType<string, string, never>;
  id: Generated<string>;
  email: ColumnType<string, string, never>;
  role: MembershipRoleValue;
  token_hash: ColumnType<never, Buffer, Buffer>;
  invited_by: ColumnType<string | null, never, never>;
  created_at: ColumnType<Date, never, never>;
  expires_at: ColumnType<Date, Date, Date>;
  last_sent_at: ColumnType<Date, never, never>;
  accepted_at: ColumnType<Date | null, never, never>;
  accepted_by: ColumnType<string | null, never, never>;
  revoked_at: ColumnType<Date | null, never, Date>;
}

export interface Database {
  'app.tenants': TenantsTable;
  'app.plans': PlansTable;
  'app.users': UsersTable & UserPasswordColumns;
  'app.memberships': MembershipsTable;
  'app.projects': ProjectsTable;
  'app.tasks': TasksTable;
  'app.comments': CommentsTable;
  'app.audit_log': AuditLogTable;
  'app.project_workflow': ProjectWorkflowTable;
  'app.project_transitions': ProjectTransitionsTable;
  'app.notifications': NotificationsTable;
  'app.activity': ActivityTable;
  'app.api_keys': ApiKeysTable;
  'app.refresh_tokens': RefreshTokensTable;
  'app.account_tokens': AccountTokensTable;
  'app.account_emails': AccountEmailsTable;
  'app.invitations': InvitationsTable;
  'app.notification_channels': NotificationChannelsTable;
  'app.notification_deliveries': NotificationDeliveriesTable;
}
