#!/usr/bin/env bash
# Checks that the root workspace's test build and the Python extension's build (a Cargo
# workspace of its own) resolve every crate they share with the same features. When they do,
# the extension's build reuses every artifact `cargo test --workspace` made and compiles only
# pyo3, numpy and the extension itself; when they differ (after a dependency update), it
# compiles Cranelift and most of the tree again, which costs minutes in CI. The fix is in the
# two Cargo.toml files' "feature unification" entries.
#
# Usage: bash scripts/check-features.sh    exit 0 when they agree, 1 (with the list) when not
set -euo pipefail
cd "$(dirname "$0")/.."
tree() { cargo tree "$@" -e features,normal,build --prefix none -f '{p} {f}' | sed 's/ (\*)$//' | sort -u; }
root=$(tree --workspace -e dev)
py=$(tree --manifest-path bindings/python/Cargo.toml)
python3 - <(echo "$root") <(echo "$py") <<'PY'
import sys

def load(path):
    found = {}
    for line in open(path):
        parts = line.split()
        if len(parts) >= 2 and parts[1].startswith("v"):
            found.setdefault((parts[0], parts[1]), set()).add(" ".join(parts[2:]).removeprefix("(proc-macro)").strip())
    return found

root, py = load(sys.argv[1]), load(sys.argv[2])
diff = [(k, root[k], py[k]) for k in sorted(root.keys() & py.keys()) if root[k] != py[k]]
for (name, version), r, p in diff:
    print(f"check-features: {name} {version}: root {sorted(r)}, bindings/python {sorted(p)}")
sys.exit(1 if diff else 0)
PY
