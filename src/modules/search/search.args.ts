import { ArgsType, Field } from 'type-graphql';
import { ForwardConnectionArgs } from '../../graphql/connection.js';
import { SearchableType } from './search.type.js';

/** Forward pages only: a search's ranks are computed per request, so it has no end to read from. */
@ArgsType()
export class SearchArgs extends ForwardConnectionArgs {
  @Field(() => String, {
    description:
      'Words to find (1–200 characters), web-search style: "quoted phrase", or, -excluded.',
  })
  query!: string;

  @Field(() => [SearchableType], { nullable: true, description: 'Omitted or null: every type.' })
  types?: SearchableType[] | null;
}
