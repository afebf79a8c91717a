import { Field, ID, InputType, registerEnumType } from 'type-graphql';
import type { SortDirection } from '../../db/keyset.js';
import { OrderDirection } from '../../graphql/connection.js';
import {
  COMBINATORS,
  DateTimeFilter,
  IDFilter,
  OptionalIDFilter,
  StringFilter,
} from '../../graphql/filter.js';
import type { CommentOrderFieldValue } from './comment.repository.js';

@InputType()
export class AddCommentInput {
  @Field(() => ID)
  taskId!: string;

  @Field(() => String)
  body!: string;
}

export const CommentOrderField = {
  CREATED_AT: 'CREATED_AT',
  UPDATED_AT: 'UPDATED_AT',
} as const satisfies Record<CommentOrderFieldValue, CommentOrderFieldValue>;
registerEnumType(CommentOrderField, { name: 'CommentOrderField' });

@InputType({ description: 'Every given condition must hold; omitted or null ones match anything.' })
export class CommentFilter {
  @Field(() => IDFilter, { nullable: true })
  id?: IDFilter | null;

  @Field(() => OptionalIDFilter, {
    nullable: true,
    description: "The author's user id; null once their account is deleted.",
  })
  author?: OptionalIDFilter | null;

  @Field(() => StringFilter, { nullable: true })
  body?: StringFilter | null;

  @Field(() => DateTimeFilter, { nullable: true })
  createdAt?: DateTimeFilter | null;

  @Field(() => DateTimeFilter, { nullable: true })
  updatedAt?: DateTimeFilter | null;

  @Field(() => [CommentFilter], { nullable: true, description: COMBINATORS.and })
  and?: CommentFilter[] | null;

  @Field(() => [CommentFilter], { nullable: true, description: COMBINATORS.or })
  or?: CommentFilter[] | null;

  @Field(() => CommentFilter, { nullable: true, description: COMBINATORS.not })
  not?: CommentFilter | null;
}

@InputType({ description: 'One key of an ordering; the id breaks ties.' })
export class CommentOrder {
  @Field(() => CommentOrderField, { defaultValue: CommentOrderField.CREATED_AT })
  field!: CommentOrderFieldValue;

  @Field(() => OrderDirection, { defaultValue: OrderDirection.ASC })
  direction!: SortDirection;
}
