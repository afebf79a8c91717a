import 'reflect-metadata';
import { DateTimeISOResolver } from 'graphql-scalars';
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema, type PubSub } from 'type-graphql';
import { LiveResolver } from '../live/live.resolver.js';
import { RESOLVERS } from '../modules/index.js';

/**
 * type-graphql demands a pubSub as soon as any @Subscription exists, even when each brings its own
 * subscribe function, as ours do: events come from each instance's PostgreSQL listener through
 * ctx.live (src/live), never from an in-process topic.
 */
const NO_TOPICS: PubSub = {
  publish() {
    throw new Error('Subscriptions are fed by src/live, not by topics.');
  },
  subscribe() {
    throw new Error('Subscriptions are fed by src/live, not by topics.');
  },
};

export async function buildAppSchema(): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: [...RESOLVERS, LiveResolver],
    pubSub: NO_TOPICS,
    validate: false,
    scalarsMap: [{ type: Date, scalar: DateTimeISOResolver }],
  });
}

/** The SDL committed as schema.graphql; sorted so it changes only when the API does. */
export function printAppSchema(schema: GraphQLSchema): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
