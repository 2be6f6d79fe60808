# syntax=docker/dockerfile:1
#
# One image for both processes of appconnect-lifecycle:
#   web (default):  node dist/src/entry/web.js
#   worker:         node dist/src/entry/worker.js
# Debian (glibc), not Alpine: the Temporal SDK's native core ships glibc builds.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# `npm install`, not `npm ci`: npm 11's ci rejects a lock file that omits other
# platforms' optional binaries (@swc/core-*), which npm install itself writes.
# With the lock file present this installs the locked versions.
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund --loglevel=error
COPY tsconfig.json ./
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund --loglevel=error

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
# Owned by root and read-only for the process; it runs as the image's `node` user.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
# No HEALTHCHECK here: the worker runs from the same image and serves no HTTP.
# The web process answers GET /healthz and GET /readyz (see docker-compose.yml).
CMD ["node", "dist/src/entry/web.js"]
