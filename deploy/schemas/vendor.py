"""Re-vendor the JSON schemas the deployment tests validate against (see README.md here).

Tests run offline, so the schemas live in the repository. They come from registry packages,
fetched with the ordinary clients:

    pip download --no-deps -d /tmp/schemas check-jsonschema==0.39.0 kubernetes-validate==1.37.0
    (cd /tmp/schemas && npm pack @asyncapi/specs@6.11.1)
    python deploy/schemas/vendor.py /tmp/schemas

The compose and AsyncAPI schemas are copied unchanged. Of the Kubernetes schemas, the files of
the kinds we ship are copied unchanged; their shared `_definitions.json` (1.3 MB) is cut down
to the definitions those kinds reach, which validates exactly the same documents.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
KUBERNETES_VERSION = "v1.30.0"
KUBERNETES_KINDS = (
    "configmap-v1",
    "secret-v1",
    "service-v1",
    "deployment-apps-v1",
    "job-batch-v1",
    "horizontalpodautoscaler-autoscaling-v2",
    "poddisruptionbudget-policy-v1",
)
_REF = re.compile(r'#/\$defs/([^"]+)"')


def _one(folder: Path, pattern: str) -> Path:
    matches = sorted(folder.glob(pattern))
    if len(matches) != 1:
        raise SystemExit(f"expected one {pattern} in {folder}, found {len(matches)}")
    return matches[0]


def _write(path: Path, data: bytes, sources: list[str], origin: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    sources.append(f"{digest}  {path.relative_to(HERE)}  from {origin}")


def _reachable(definitions: dict[str, Any], roots: list[str]) -> dict[str, Any]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += _REF.findall(json.dumps(definitions[name]))
    return {name: definitions[name] for name in sorted(seen)}


def vendor(downloads: Path) -> None:
    sources: list[str] = []

    wheel = _one(downloads, "check_jsonschema-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        vendored = "check_jsonschema/builtin_schemas/vendor/"
        _write(
            HERE / "compose-spec.json",
            zf.read(vendored + "compose-spec.json"),
            sources,
            f"{wheel.name}:{vendored}compose-spec.json",
        )
        license_path = vendored + "licenses/LICENSE.compose-spec"
        _write(
            HERE / "licenses" / "LICENSE.compose-spec",
            zf.read(license_path),
            sources,
            f"{wheel.name}:{license_path}",
        )

    tgz = _one(downloads, "asyncapi-specs-*.tgz")
    with tarfile.open(tgz) as tf:
        for member, target in (
            ("package/schemas/3.0.0.json", "asyncapi-3.0.0.json"),
            ("package/LICENSE", "licenses/LICENSE.asyncapi-specs"),
        ):
            extracted = tf.extractfile(member)
            if extracted is None:
                raise SystemExit(f"{member} missing from {tgz.name}")
            _write(HERE / target, extracted.read(), sources, f"{tgz.name}:{member}")

    wheel = _one(downloads, "kubernetes_validate-*.whl")
    folder = f"kubernetes_validate/kubernetes-json-schema/{KUBERNETES_VERSION}-local-strict/"
    kubernetes = HERE / f"kubernetes-{KUBERNETES_VERSION}"
    with zipfile.ZipFile(wheel) as zf:
        roots: list[str] = []
        for kind in KUBERNETES_KINDS:
            data = zf.read(f"{folder}{kind}.json")
            roots += _REF.findall(data.decode())
            _write(kubernetes / f"{kind}.json", data, sources, f"{wheel.name}:{folder}{kind}.json")
        definitions = json.loads(zf.read(folder + "_definitions.json"))
        definitions["$defs"] = _reachable(definitions["$defs"], roots)
        pruned = json.dumps(definitions, indent=1, sort_keys=True).encode() + b"\n"
        origin = f"{wheel.name}:{folder}_definitions.json (only the definitions reached)"
        _write(kubernetes / "_definitions.json", pruned, sources, origin)
        license_path = next(n for n in zf.namelist() if n.endswith("licenses/LICENSE"))
        _write(
            HERE / "licenses" / "LICENSE.kubernetes-validate",
            zf.read(license_path),
            sources,
            f"{wheel.name}:{license_path}",
        )

    (HERE / "SOURCES.txt").write_text("\n".join(sources) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    vendor(Path(sys.argv[1]))
