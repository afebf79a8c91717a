import type { CodegenConfig } from '@graphql-codegen/cli';

// The typed client: TypedDocumentNodes for every operation in src/client/operations, generated
// from the committed schema.graphql. `npm run codegen` regenerates it; a test checks it is current.
const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['src/client/operations/*.graphql'],
  generates: {
    'src/client/generated/graphql.ts': {
      plugins: ['typescript-operations', 'typed-document-node'],
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        avoidOptionals: { field: true, inputValue: false, object: true },
        scalars: {
          ID: 'string',
          DateTimeISO: 'string',
          LocalDate: 'string',
          JSONObject: 'Record<string, unknown>',
        },
        strictScalars: true,
      },
    },
  },
};

export default config;
