#!/usr/bin/env bash
# The pages in a real headless Chromium (Debian's chromium and chromium-driver, driven by
# selenium from .venv) against a fresh dev server. Screenshots go to target/screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in chromium chromedriver; do
  command -v "$tool" > /dev/null || { echo "$tool is missing: make test installs it (apt-get)"; exit 1; }
done
# shellcheck source=infra/dev-server.sh
source infra/dev-server.sh
mkdir -p target/screenshots
.venv/bin/python tests/browser/pages.py "$base" target/screenshots
