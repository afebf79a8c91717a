// The public entry of `tenantql/client` (built to dist/client by `npm run build`).
export * from './generated/graphql.js';
export { TenantqlClient, type TenantqlClientOptions } from './client.js';
export { tokenExpiry, type TokenPair } from './credentials.js';
export { CLIENT_ERROR_CODES, TenantqlError, type TenantqlErrorDetail } from './errors.js';
