# syntax=docker/dockerfile:1
#
# One image for both processes of appconnect-lifecycle:
#   web (default):  node dist/src/entry/web.js
#   worker:         node --max-old-space-size=256 dist/src/entry/worker.js (each V8 heap capped:
#                   docs/performance.md#worker-memory)
# Debian (glibc), not Alpine: the Temporal SDK's native core ships glibc builds.
#
# Dependencies are installed with `npm ci`: exactly the lock file's versions (the
# lock file lists every platform's optional binaries, so npm 11's ci accepts it, and
# npm 10's, which the node:20 image ships: checked outside Docker with npm 10.9.9,
# both `ci` below, the build, and the runtime tree running an install end to end),
# and with --ignore-scripts: no package's install script runs. The Temporal SDK
# needs none (@temporalio/core-bridge ships prebuilt binaries); the only package
# with one is @swc/core (the workflow bundler), whose postinstall only checks that
# its prebuilt binary loads, which the build below does for real.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
COPY tsconfig.json ./
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
RUN npm run build

# Runtime dependencies only, installed afresh from the lock file (not pruned from
# the build's tree), and checked to load their native parts.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error \
 && node -e "require('@temporalio/core-bridge'); require('@swc/core')"

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    ADMIN_HOST=0.0.0.0 \
    ADMIN_PORT=9465
WORKDIR /app
# Owned by root and read-only for the process; it runs as the image's `node` user.
COPY --from=deps /app/package.json ./package.json
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
# 3000: the callback (public). 9465: /readyz and /metrics (admin; keep it internal).
EXPOSE 3000 9465
# No HEALTHCHECK here: the worker runs from the same image and serves no HTTP.
# The web process answers GET /healthz on 3000 and GET /readyz on 9465 (see docker-compose.yml).
CMD ["node", "dist/src/entry/web.js"]
