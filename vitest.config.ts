import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Under vitest, type-graphql is loaded through require() and gets graphql's CommonJS build;
    // our own modules must get that very copy too, or schema objects cross two copies of graphql
    // ("Cannot use GraphQLScalarType from another module or realm").
    alias: { graphql: fileURLToPath(new URL('node_modules/graphql/index.js', import.meta.url)) },
  },
  test: {
    // graphql-ws checks `instanceof GraphQLError` on what the live server hands it; processed by
    // vite it gets the aliased graphql above too, instead of Node's copy from node_modules.
    server: { deps: { inline: ['graphql-ws'] } },
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['test/support/tenant-predicate-audit.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
  },
});
