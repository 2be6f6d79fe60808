#!/usr/bin/env bash
# Checks the Docker image's steps without a Docker engine: the lock file installed with
# the npm the image ships (NPM_VERSION, default 10: node:20 images carry npm 10), the
# build stage's `npm ci` and build, the deps stage's `npm ci --omit=dev` and its native
# check, then the runtime tree (production dependencies + dist, NODE_ENV=production)
# running one install end to end against the embedded Temporal and FerretDB and the
# simulator. Needs `npm run setup` done (.tools) and the npm registry. Exit 0: approved.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
NPM_VERSION=${NPM_VERSION:-10}
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
log() { printf '[check-image] %s\n' "$*" >&2; }
# N distinct free ports below the kernel's ephemeral range (where the dev server picks its internal ports), all held
# at once while picked so none repeats (as src/local/process.ts freePort does).
free_ports() {
  node -e "
    const net = require('net'); const held = [];
    const one = () => new Promise((ok) => { const p = 15000 + Math.floor(Math.random() * 17000);
      const s = net.createServer().once('error', () => ok(one())).listen(p, '127.0.0.1', () => { held.push(s); ok(p); }); });
    (async () => { const ps = []; for (let i = 0; i < $1; i++) ps.push(await one()); held.forEach((s) => s.close()); console.log(ps.join(' ')); })();"
}
wait_port() { for _ in $(seq 120); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.5; done; log "port $1 never opened"; return 1; }

npm_ci() { (cd "$1" && npx -y "npm@$NPM_VERSION" ci --ignore-scripts --no-audit --no-fund --loglevel=error "${@:2}"); }
mkdir -p "$WORK/build" "$WORK/runtime" "$WORK/data/ferretdb"
log "npm $(npx -y "npm@$NPM_VERSION" --version): build stage"
cp package.json package-lock.json tsconfig.json "$WORK/build/"
cp -r src workflows activities "$WORK/build/"
npm_ci "$WORK/build"
(cd "$WORK/build" && npm run build --silent >/dev/null)
log "deps stage (--omit=dev) and its native check"
cp package.json package-lock.json "$WORK/runtime/"
npm_ci "$WORK/runtime" --omit=dev
(cd "$WORK/runtime" && node -e "require('@temporalio/core-bridge'); require('@swc/core')")
cp -r "$WORK/build/dist" "$WORK/runtime/dist"

read -r TP FP WEB ADMIN MET SIM < <(free_ports 6)
log "runtime: Temporal :$TP, FerretDB :$FP, web :$WEB, simulator :$SIM"
"$ROOT/.tools/bin/temporal" server start-dev --ip 127.0.0.1 --port "$TP" --headless --namespace default --log-level warn \
  --search-attribute TalkdeskAccountId=Keyword --search-attribute TalkdeskAccountName=Keyword \
  --search-attribute TalkdeskAppId=Keyword --search-attribute InstallationPhase=Keyword >"$WORK/temporal.log" 2>&1 &
PIDS+=($!)
"$ROOT/.tools/bin/ferretdb" --handler=sqlite "--sqlite-url=file:$WORK/data/ferretdb/" "--listen-addr=127.0.0.1:$FP" \
  --debug-addr=- --telemetry=disable "--state-dir=$WORK/data/ferretdb" --log-level=warn >"$WORK/ferretdb.log" 2>&1 &
PIDS+=($!)
wait_port "$TP"; wait_port "$FP"

cd "$WORK/runtime"
# The shell's own Temporal settings (a cloud profile, API key, TLS) are not this dev server's: blanked (empty reads as
# unset), and a profile naming the dev server alone, as npm start does (src/local/servers-only.ts, EMBEDDED_TEMPORAL_BLANKS).
for v in TEMPORAL_CODEC_ENDPOINT TEMPORAL_CODEC_AUTH TEMPORAL_PROFILE TEMPORAL_API_KEY TEMPORAL_TLS TEMPORAL_TLS_CLIENT_CERT_PATH TEMPORAL_TLS_CLIENT_CERT_DATA \
  TEMPORAL_TLS_CLIENT_KEY_PATH TEMPORAL_TLS_CLIENT_KEY_DATA TEMPORAL_TLS_SERVER_CA_CERT_PATH TEMPORAL_TLS_SERVER_CA_CERT_DATA \
  TEMPORAL_TLS_SERVER_NAME TEMPORAL_TLS_DISABLE_HOST_VERIFICATION; do export "$v="; done
# And the shell's gRPC headers for its cluster (TEMPORAL_GRPC_META_<name>), as npm start's settings file blanks them.
for h in $(env | sed -n 's/^\(TEMPORAL_GRPC_META_[A-Za-z0-9_]*\)=.*/\1/p'); do export "$h="; done
printf '[profile.default]\naddress = "127.0.0.1:%s"\nnamespace = "default"\n' "$TP" >"$WORK/temporal-local.toml"
export TEMPORAL_CONFIG_FILE="$WORK/temporal-local.toml"
export NODE_ENV=production HOST=127.0.0.1 PORT=$WEB ADMIN_HOST=127.0.0.1 ADMIN_PORT=$ADMIN WORKER_METRICS_BIND=127.0.0.1:$MET \
  TEMPORAL_ADDRESS=127.0.0.1:$TP TEMPORAL_NAMESPACE=default MONGODB_URI=mongodb://127.0.0.1:$FP MONGODB_DB=appconnect \
  TALKDESK_APP_ID=check-image-app TALKDESK_WEBHOOK_SECRET=check-image-webhook-secret-0123456789 \
  SECRETS_KEY=$(node -e "console.log(require('crypto').randomBytes(32).toString('base64'))") \
  APP_BASE_URL=http://127.0.0.1:$WEB SUPPORT_CONTACT=ops@example.com TALKDESK_ALLOWED_HOSTS=127.0.0.1:$SIM
node --max-old-space-size=256 dist/src/entry/worker.js >"$WORK/worker.log" 2>&1 &
PIDS+=($!)
node dist/src/entry/web.js >"$WORK/web.log" 2>&1 &
PIDS+=($!)
wait_port "$WEB"
ready=$(curl -s "http://127.0.0.1:$ADMIN/readyz" || true)
log "readyz: $ready"
SIMULATOR_PORT=$SIM CALLBACK_URL=http://127.0.0.1:$WEB/talkdesk/events node dist/src/entry/demo.js >"$WORK/demo.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 120); do grep -qs 'approval call received' "$WORK/demo.log" && break; sleep 0.5; done
if grep -q 'approval call received' "$WORK/demo.log"; then
  log "approved: $(grep 'approval call received' "$WORK/demo.log")"
  exit 0
fi
log "no approval within 60 s; demo, web and worker logs follow"
cat "$WORK/demo.log" >&2; tail -20 "$WORK/web.log" "$WORK/worker.log" >&2
exit 1
