import { Field, InputType } from 'type-graphql';

@InputType()
export class CreateTenantInput {
  @Field(() => String, { description: '1–200 characters.' })
  name!: string;

  @Field(() => String, {
    description:
      '2–63 lower-case letters, digits or hyphens, not starting or ending with a hyphen; unique.',
  })
  slug!: string;
}
