# The tenantql image, against an external PostgreSQL (see docker-compose.yml). Node 24, the active
# LTS line; the image holds the compiled dist/ and the production dependencies only (no esbuild,
# tsx or embedded-postgres), and runs as the unprivileged `node` user.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` (the build) needs src/, which comes in the next layer so that this one
# stays cached while only sources change. No dependency needs its install script here: argon2 loads
# its prebuilt linux-x64 binary and esbuild finds its platform package.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json ./
COPY bin ./bin
COPY src ./src
RUN npm run build && npm prune --omit=dev --omit=optional --no-audit --no-fund

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json ./
COPY bin ./bin
COPY sql ./sql
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
EXPOSE 4000
# Ready means the database answers and its migrations are current (see docs/operations.md,
# "Running in production"); the delivery worker (same image, `tenantql worker`) sets its own check.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT || 4000}/readyz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM drains in-flight requests for SHUTDOWN_GRACE_MS before exiting; keep the orchestrator's
# stop timeout longer than that.
STOPSIGNAL SIGTERM
CMD ["node", "bin/tenantql.js", "start"]
