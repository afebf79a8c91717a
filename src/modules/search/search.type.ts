import { createUnionType, Field, Float, Int, ObjectType, registerEnumType } from 'type-graphql';
import { PageInfo } from '../../graphql/connection.js';
import { Comment } from '../comment/comment.type.js';
import { nodeTypeOf, type NodeTypeName } from '../node/node.type.js';
import { Project } from '../project/project.type.js';
import { Task } from '../task/task.type.js';

export const SearchableType = {
  PROJECT: 'PROJECT',
  TASK: 'TASK',
  COMMENT: 'COMMENT',
} as const;
export type SearchableType = (typeof SearchableType)[keyof typeof SearchableType];
registerEnumType(SearchableType, {
  name: 'SearchableType',
  valuesConfig: {
    PROJECT: { description: 'Project names and descriptions.' },
    TASK: { description: 'Task titles and descriptions.' },
    COMMENT: { description: 'Comment bodies.' },
  },
});

export const SEARCHED_TYPE: Record<SearchableType, NodeTypeName> = {
  PROJECT: 'Project',
  TASK: 'Task',
  COMMENT: 'Comment',
};

export const SearchResult = createUnionType({
  name: 'SearchResult',
  description: 'What search finds.',
  types: () => [Project, Task, Comment] as const,
  resolveType: (value: unknown) => nodeTypeOf(value),
});

@ObjectType({
  description: 'A piece of a highlighted text: a matching word, or what lies between.',
})
export class HighlightPart {
  @Field(() => String)
  text!: string;

  @Field(() => Boolean, { description: 'Whether this piece matched the query.' })
  match!: boolean;
}

@ObjectType({ description: 'One search hit.' })
export class SearchEdge {
  @Field(() => String, { description: 'Opaque; pass as `after` to continue after this hit.' })
  cursor!: string;

  @Field(() => SearchResult)
  node!: Project | Task | Comment;

  @Field(() => Float, {
    description:
      'ts_rank of the hit, higher first; within one search only (not comparable across searches).',
  })
  rank!: number;

  @Field(() => Boolean, {
    description:
      "Whether the project's name or the task's title equals the query: these come first.",
  })
  exactMatch!: boolean;

  /** The searched text and what it found, for the highlight (computed only when selected). */
  query!: string;
  hit!: { typename: NodeTypeName; id: string };
}

@ObjectType({ description: 'A page of search hits, best first.' })
export class SearchConnection {
  @Field(() => [SearchEdge])
  edges!: SearchEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int, { description: 'Hits in all pages.' })
  totalCount!: number | Promise<number>;
}
