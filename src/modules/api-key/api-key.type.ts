import { Field, ID, ObjectType } from 'type-graphql';
import { MembershipRole } from '../member/member.type.js';

@ObjectType({
  description:
    'A key a machine client sends as "Authorization: Bearer tq_…" instead of a user token. It ' +
    'acts in its own tenant as the member who created it, with at most its own role. The ' +
    'secret is shown once, by createApiKey; lists show its prefix only.',
})
export class ApiKey {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  name!: string;

  @Field(() => MembershipRole, {
    description: "The most it may do; less if its creator's own role is lower now.",
  })
  role!: MembershipRole;

  @Field(() => String, {
    description: 'The first characters of the key (tq_ and 8 hex digits), to tell keys apart.',
  })
  prefix!: string;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date, {
    nullable: true,
    description: 'When the key was last accepted; written in batches, so up to a minute behind.',
  })
  lastUsedAt!: Date | null;

  @Field(() => Date, { nullable: true, description: 'Null: the key never expires.' })
  expiresAt!: Date | null;
}

@ObjectType({
  description: 'A new API key, with its secret: store it now, it is never shown again.',
})
export class CreatedApiKey {
  @Field(() => String, { description: 'The whole key, to send as "Authorization: Bearer <key>".' })
  key!: string;

  @Field(() => ApiKey)
  apiKey!: ApiKey;
}
