import { Field, InputType } from 'type-graphql';

@InputType()
export class SignUpInput {
  @Field(() => String, { description: 'Stored trimmed and in lower case; unique.' })
  email!: string;

  @Field(() => String, { description: '10–256 characters, not the email address.' })
  password!: string;

  @Field(() => String, { description: '1–200 characters.' })
  name!: string;
}

@InputType()
export class LoginInput {
  @Field(() => String)
  email!: string;

  @Field(() => String)
  password!: string;
}

@InputType()
export class ChangePasswordInput {
  @Field(() => String)
  currentPassword!: string;

  @Field(() => String, { description: '10–256 characters, not the email address.' })
  newPassword!: string;
}

@InputType()
export class ResetPasswordInput {
  @Field(() => String, { description: 'The token from the password-reset email.' })
  token!: string;

  @Field(() => String, { description: '10–256 characters, not the email address.' })
  newPassword!: string;
}
