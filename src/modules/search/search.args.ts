import { ArgsType, Field } from 'type-graphql';
import { ConnectionArgs } from '../../graphql/connection.js';
import { SearchableType } from './search.type.js';

/** Pages both ways from a cursor; `last` without `before` is the last hits of the search. */
@ArgsType()
export class SearchArgs extends ConnectionArgs {
  @Field(() => String, {
    description:
      'Words to find (1–200 characters), web-search style: "quoted phrase", or, -excluded.',
  })
  query!: string;

  @Field(() => [SearchableType], { nullable: true, description: 'Omitted or null: every type.' })
  types?: SearchableType[] | null;
}
