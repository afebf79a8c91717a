import { Field, ObjectType } from 'type-graphql';
import { User } from '../user/user.type.js';

@ObjectType({
  description:
    'A signed-in session: a short-lived access token (send as "Authorization: Bearer <token>") ' +
    'and a single-use refresh token to get the next pair with refreshToken.',
})
export class AuthPayload {
  @Field(() => String)
  token!: string;

  @Field(() => String)
  refreshToken!: string;

  @Field(() => User)
  user!: User;
}
