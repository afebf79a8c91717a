import { ArgsType, Field } from 'type-graphql';
import { ConnectionArgs, SORT_DESCRIPTION } from '../../graphql/connection.js';
import { ProjectFilter, ProjectOrder } from './project.input.js';

@ArgsType()
export class ProjectsArgs extends ConnectionArgs {
  @Field(() => ProjectFilter, { nullable: true })
  filter?: ProjectFilter | null;

  @Field(() => ProjectOrder, {
    nullable: true,
    description: 'One key; see sort for several. Defaults to oldest first (CREATED_AT ASC).',
  })
  orderBy?: ProjectOrder | null;

  @Field(() => [ProjectOrder], { nullable: true, description: SORT_DESCRIPTION })
  sort?: ProjectOrder[] | null;
}
