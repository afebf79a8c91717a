import { ArgsType, Field, ID, Int } from 'type-graphql';
import { MAX_PAGE_SIZE } from '../../graphql/connection.js';

/** Transitions returned when a client names no `first` (clients from before it existed). */
export const TRANSITIONS_PAGE_SIZE = 50;

/**
 * `Project.transitions` stays a plain list (clients select it as one); `first` bounds it and
 * `after` continues past the last transition a client has.
 */
@ArgsType()
export class ProjectTransitionsArgs {
  @Field(() => Int, {
    nullable: true,
    defaultValue: TRANSITIONS_PAGE_SIZE,
    description: `How many transitions, 1–${MAX_PAGE_SIZE}.`,
  })
  first!: number | null;

  @Field(() => ID, {
    nullable: true,
    description:
      'The id of the last transition you have: the list continues with those recorded after it.',
  })
  after!: string | null;
}
