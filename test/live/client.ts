import type { FormattedExecutionResult, GraphQLFormattedError } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { TestApp } from '../support/app.js';
import { waitFor } from '../support/wait.js';

/** What one subscription received, as a graphql-ws client sees it. */
export interface Received<T> {
  results: FormattedExecutionResult<T>[];
  /** Errors of an `error` message: the subscription was refused or ended. */
  errors: readonly GraphQLFormattedError[] | undefined;
  /** Set when the connection itself was closed (refused token, server shutdown). */
  closed: { code: number; reason: string } | undefined;
  completed: boolean;
  /** Resolves once the subscription completed, errored or lost its connection. */
  ended: Promise<void>;
  unsubscribe(): void;
}

export interface LiveClient {
  client: Client;
  subscribe<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
  ): Received<T>;
  close(): Promise<void>;
}

/** A real graphql-ws client over a real WebSocket to the test app's /graphql. */
export function liveClient(api: TestApp, connectionParams: Record<string, string>): LiveClient {
  const client = createClient({
    url: api.url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams,
    retryAttempts: 0,
    lazy: true,
  });
  return {
    client,
    subscribe<T>(query: string, variables?: Record<string, unknown>) {
      let end!: () => void;
      const received: Received<T> = {
        results: [],
        errors: undefined,
        closed: undefined,
        completed: false,
        ended: new Promise<void>((resolve) => (end = resolve)),
        unsubscribe: () => undefined,
      };
      received.unsubscribe = client.subscribe<T>(
        { query, variables },
        {
          next: (result) => received.results.push(result as FormattedExecutionResult<T>),
          error: (error: unknown) => {
            if (Array.isArray(error)) received.errors = error as GraphQLFormattedError[];
            else if (error && typeof error === 'object' && 'code' in error) {
              const event = error as { code: number; reason: string };
              received.closed = { code: event.code, reason: String(event.reason) };
            }
            end();
          },
          complete: () => {
            received.completed = true;
            end();
          },
        },
      );
      return received;
    },
    close: async () => {
      await client.dispose();
    },
  };
}

export const until = (
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs?: number,
): Promise<void> => waitFor(what, condition, timeoutMs);

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
