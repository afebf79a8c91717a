import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { ConnectionType } from '../../graphql/connection.js';

export const ActivityEntityType = {
  PROJECT: 'PROJECT',
  TASK: 'TASK',
  COMMENT: 'COMMENT',
  MEMBERSHIP: 'MEMBERSHIP',
  API_KEY: 'API_KEY',
} as const;
export type ActivityEntityType = (typeof ActivityEntityType)[keyof typeof ActivityEntityType];
registerEnumType(ActivityEntityType, {
  name: 'ActivityEntityType',
  valuesConfig: {
    MEMBERSHIP: { description: "A member's place in the tenant; its entityId is the user's id." },
    API_KEY: {
      description: 'An API key: CREATED, or CHANGED with changedFields ["revokedAt"] when revoked.',
    },
  },
});

export const ActivityAction = {
  CREATED: 'CREATED',
  CHANGED: 'CHANGED',
  DELETED: 'DELETED',
} as const;
export type ActivityAction = (typeof ActivityAction)[keyof typeof ActivityAction];
registerEnumType(ActivityAction, { name: 'ActivityAction' });

@ObjectType({
  description:
    'One change in the current tenant, recorded by the database in the same transaction as the ' +
    'change itself. Rows removed along with their project, task or tenant are part of that one ' +
    'deletion and are not listed separately.',
})
export class Activity {
  @Field(() => ID)
  id!: string;

  @Field(() => ActivityEntityType)
  entityType!: ActivityEntityType;

  @Field(() => ID, { description: "The entity's id (a membership's is its user's id)." })
  entityId!: string;

  @Field(() => ActivityAction)
  action!: ActivityAction;

  @Field(() => [String], {
    description: 'For CHANGED: the fields that changed (camelCase column names); else empty.',
  })
  changedFields!: string[];

  @Field(() => String, {
    nullable: true,
    description:
      "The project's name, the task's title, the member's role or the API key's name at the time.",
  })
  label!: string | null;

  @Field(() => ID, {
    nullable: true,
    description: 'The API key the change was made with (acting as `actor`); null for a person.',
  })
  apiKeyId!: string | null;

  @Field(() => Date)
  createdAt!: Date;

  /** Resolved into `actor` through the batched loader. */
  actorId!: string | null;
}

@ObjectType('ActivityConnection')
export class ActivityConnection extends ConnectionType('Activity', () => Activity) {}
