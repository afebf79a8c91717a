import type { NonEmptyArray } from 'type-graphql';

// type-graphql takes resolver classes as bare constructors.
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
type ResolverClass = Function;
import {
  AdminMutationResolver,
  AdminQueryResolver,
  AdminResolver,
} from './admin/admin.resolver.js';
import { AccountResolver } from './account/account.resolver.js';
import { ActivityResolver } from './activity/activity.resolver.js';
import { ApiKeyResolver } from './api-key/api-key.resolver.js';
import { CommentResolver } from './comment/comment.resolver.js';
import { InvitationResolver } from './invitation/invitation.resolver.js';
import { MemberResolver } from './member/member.resolver.js';
import { NodeResolver } from './node/node.resolver.js';
import { NotificationResolver } from './notification/notification.resolver.js';
import { ProjectResolver } from './project/project.resolver.js';
import { SearchResolver } from './search/search.resolver.js';
import { TaskResolver } from './task/task.resolver.js';
import {
  ProjectTaskStatsResolver,
  TaskAssigneeCountResolver,
  TaskStatsResolver,
} from './task-stats/task-stats.resolver.js';
import { TenantResolver } from './tenant/tenant.resolver.js';
import { UserResolver } from './user/user.resolver.js';
import {
  ProjectTransitionResolver,
  ProjectWorkflowResolver,
} from './workflow/workflow.resolver.js';

/** Every feature's resolvers; the schema is built from exactly these. */
export const RESOLVERS: NonEmptyArray<ResolverClass> = [
  UserResolver,
  AccountResolver,
  TenantResolver,
  MemberResolver,
  ApiKeyResolver,
  InvitationResolver,
  ProjectResolver,
  TaskResolver,
  CommentResolver,
  ProjectWorkflowResolver,
  ProjectTransitionResolver,
  NotificationResolver,
  ActivityResolver,
  NodeResolver,
  SearchResolver,
  ProjectTaskStatsResolver,
  TaskStatsResolver,
  TaskAssigneeCountResolver,
  AdminResolver,
  AdminQueryResolver,
  AdminMutationResolver,
];
