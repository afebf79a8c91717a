import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { MembershipRole } from '../member/member.type.js';

export const InvitationStatus = {
  PENDING: 'PENDING',
  ACCEPTED: 'ACCEPTED',
  REVOKED: 'REVOKED',
  EXPIRED: 'EXPIRED',
} as const;
export type InvitationStatus = (typeof InvitationStatus)[keyof typeof InvitationStatus];

registerEnumType(InvitationStatus, {
  name: 'InvitationStatus',
  valuesConfig: {
    PENDING: { description: 'Mailed and not yet used: the link works until expiresAt.' },
    ACCEPTED: { description: 'Someone who read the mail joined with it.' },
    REVOKED: { description: 'Withdrawn by an owner or admin.' },
    EXPIRED: { description: 'Not used in time; resendInvitation mails a new link.' },
  },
});

@ObjectType({
  description:
    'An invitation to the current tenant, mailed to an address. The link in the mail is never ' +
    'shown here: only the person who reads that mailbox can accept.',
})
export class Invitation {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { description: 'The invited address, in lower case.' })
  email!: string;

  @Field(() => MembershipRole, { description: 'The role the membership gets on acceptance.' })
  role!: MembershipRole;

  @Field(() => InvitationStatus)
  status!: InvitationStatus;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date, { description: 'When the current link stops working.' })
  expiresAt!: Date;

  @Field(() => Date, { description: 'When the current link was mailed.' })
  lastSentAt!: Date;

  /** Resolved into `invitedBy` through the batched user loader (null once they left). */
  invitedById!: string | null;
}
