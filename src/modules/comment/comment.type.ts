import { Field, ID, ObjectType } from 'type-graphql';
import { ConnectionType } from '../../graphql/connection.js';
import { Node } from '../node/node.type.js';

@ObjectType({ description: 'A comment on a task.', implements: Node })
export class Comment {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  body!: string;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date)
  updatedAt!: Date;

  /** Resolved to `task` through the task loader. */
  taskId!: string;

  /** Resolved to `author` through the user loader. */
  authorId!: string | null;
}

@ObjectType('CommentConnection')
export class CommentConnection extends ConnectionType('Comment', () => Comment) {}
