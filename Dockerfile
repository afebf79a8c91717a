# Multi-stage image for tenantql against an external PostgreSQL (see docker-compose.yml).
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY bin ./bin
COPY sql ./sql
COPY src ./src
# npm start compiles the server into node_modules/.cache/tenantql (bin/start.js).
RUN mkdir -p node_modules/.cache/tenantql && chown node node_modules/.cache/tenantql
USER node
EXPOSE 4000
# SIGTERM drains in-flight requests for SHUTDOWN_GRACE_MS before exiting; keep the orchestrator's
# stop timeout longer than that.
STOPSIGNAL SIGTERM
CMD ["node", "bin/tenantql.js", "start"]
