#!/usr/bin/env bash
# Installs the checks' npm packages (package-lock.json beside this script)
# into DEST/node_modules with `npm ci`, once: again only when the lock file
# changed. Then checks they load.
#
#   npm_ci.sh DEST
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dest="$1"
mkdir -p "$dest"
stamp="$dest/node_modules/.mend-lock.sha256"
want="$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "npm_ci: $dest/node_modules is up to date with package-lock.json"
else
  cp "$here/package.json" "$here/package-lock.json" "$dest/"
  (cd "$dest" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
  echo "$want" >"$stamp"
fi
node -e '
  const {createRequire} = require("node:module");
  const r = createRequire(process.argv[1] + "/node_modules/noop.js");
  r("js-yaml");
  r("kubernetes-models/apps/v1/StatefulSet");
  console.log("npm_ci: js-yaml and kubernetes-models load with node " + process.version);
' "$dest"
