import { Field, InputType } from 'type-graphql';
import { MembershipRole } from '../member/member.type.js';

@InputType()
export class CreateApiKeyInput {
  @Field(() => String, { description: '1–100 characters, to tell the key apart in lists.' })
  name!: string;

  @Field(() => MembershipRole, { description: 'Only owners create OWNER keys.' })
  role!: MembershipRole;

  @Field(() => Date, { nullable: true, description: 'In the future; null: never expires.' })
  expiresAt?: Date | null;
}
