# Roster container image.
#   docker build -t roster .
#   docker run -p 8080:8080 -e DATABASE_URL=postgres://user:pass@db:5432/roster \
#     -e ROSTER_PUBLIC_URL=https://roster.example.com roster
#
# In a container DATABASE_URL is expected. Without it Roster starts its embedded PostgreSQL,
# which needs a writable ROSTER_DATA_DIR owned by the non-root user: this image sets
# ROSTER_DATA_DIR=/data (owned by `node`); mount a volume there (-v roster-data:/data) or the data
# dies with the container.
#
# CLI commands run in the same image, e.g.:
#   docker run --rm -e DATABASE_URL=… roster node dist/src/main.js token create --name entra --scope scim:write

ARG NODE_IMAGE=node:24-bookworm-slim

# --- build: install everything, compile TypeScript, then drop dev dependencies ---------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY migrations ./migrations
COPY connectors ./connectors
RUN npm run build \
 && cp -r src/console/static dist/src/console/static \
 && npm prune --omit=dev --no-audit --no-fund \
 && test -f dist/src/main.js

# --- runtime: compiled code and production dependencies only, as a non-root user -------------
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    ROSTER_DATA_DIR=/data
RUN mkdir -p /data && chown node:node /data
COPY --from=build --chown=node:node /app/package.json ./package.json
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
# The HR import's default columns file (the sample's layout); mount your own and point
# ROSTER_HR_COLUMNS_FILE at it (docs/operations.md).
COPY --chown=node:node examples/columns.yaml ./examples/columns.yaml
USER node
EXPOSE 8080
# Slim images have no curl: probe /healthz with node itself (global fetch).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node runs as PID 1 and receives SIGTERM directly; Roster shuts down gracefully on it.
# (`docker run --init` adds a zombie reaper if you run the embedded PostgreSQL in the container.)
CMD ["node", "dist/src/main.js", "serve"]
