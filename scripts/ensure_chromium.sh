#!/usr/bin/env bash
# The Swagger UI's browser test (tests/e2e/test_swagger_ui.py) drives Debian's chromium;
# playwright's own browser download is never used (CI reaches the package registries only).
# Installs chromium with apt-get when it is missing and we are root. Elsewhere the test skips
# without it, but under CI=true a missing chromium is an error: CI must run the browser test.
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing chromium for the browser test (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if [ "${CI:-}" = true ] && ! command -v chromium >/dev/null 2>&1; then
    echo "chromium is missing and could not be installed: the browser test cannot run" >&2
    exit 1
fi
