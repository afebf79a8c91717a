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
COPY sql ./sql
COPY src ./src
USER node
EXPOSE 4000
CMD ["node", "--import", "tsx", "src/main.ts"]
