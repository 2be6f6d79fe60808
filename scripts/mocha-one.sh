#!/usr/bin/env bash
# Runs chosen compiled test files with the project's root hooks: scripts/mocha-one.sh dist/test/x.test.js
exec npx mocha --no-config --require dist/test/support/root-hooks.js --timeout 60000 --exit --enable-source-maps "$@"
