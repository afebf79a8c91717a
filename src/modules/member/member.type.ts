import { Field, ObjectType, registerEnumType } from 'type-graphql';
import type { MembershipRoleValue } from '../../db/schema.js';
import type { User } from '../user/user.type.js';

/** GraphQL names in upper case, database values in lower case: resolvers pass db values through. */
export const MembershipRole = {
  OWNER: 'owner',
  ADMIN: 'admin',
  MEMBER: 'member',
  VIEWER: 'viewer',
} as const satisfies Record<string, MembershipRoleValue>;
export type MembershipRole = (typeof MembershipRole)[keyof typeof MembershipRole];

registerEnumType(MembershipRole, {
  name: 'MembershipRole',
  description: 'What a member may do in a tenant. Viewers only read.',
  valuesConfig: {
    OWNER: { description: 'Everything, including granting and revoking OWNER.' },
    ADMIN: { description: 'Manages members (except owners) and deletes projects.' },
    MEMBER: { description: 'Reads and writes projects, tasks and comments.' },
    VIEWER: { description: 'Reads only.' },
  },
});

@ObjectType({ description: "A user's membership in the current tenant." })
export class Member {
  /** Resolved into `user` by MemberResolver, batched through loadUser. */
  userId!: string;

  /**
   * Set only on what the deprecated addMember answers: the invitation it sent, whose `user` is a
   * stand-in carrying the invited address rather than an account.
   */
  placeholder?: User;

  @Field(() => MembershipRole)
  role!: MembershipRole;

  @Field(() => Date)
  joinedAt!: Date;
}
