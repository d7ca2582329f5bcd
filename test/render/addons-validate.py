"""Validates Kubernetes objects against the OpenAPI schemas of several Kubernetes versions.

Reads {"versions": ["1.28.0", ...], "objects": [...]} as JSON on stdin and prints {version: [result, ...]}, one
result per object. Built-in kinds are checked with the strict (no unknown fields) schemas kubernetes-validate ships
per Kubernetes version; custom resources against the openAPIV3Schema of a CustomResourceDefinition among the objects.
`--versions` prints the Kubernetes versions the installed kubernetes-validate has schemas for.
"""
import functools
import json
import sys

import jsonschema
import kubernetes_validate
from kubernetes_validate import utils
from kubernetes_validate.utils import SchemaNotFoundError, all_versions

# kubernetes-validate parses a version's definitions file (megabytes of JSON) for every object it checks; the
# files do not change while this runs, so each is parsed once.
utils.schema_contents = functools.lru_cache(maxsize=None)(utils.schema_contents)


def crd_schemas(objects):
    schemas = {}
    for o in objects:
        if o.get("kind") != "CustomResourceDefinition":
            continue
        spec = o["spec"]
        for v in spec["versions"]:
            schemas[(f'{spec["group"]}/{v["name"]}', spec["names"]["kind"])] = v["schema"]["openAPIV3Schema"]
    return schemas


def validate(version, objects, crds):
    results = []
    for o in objects:
        key = f'{o.get("kind")}/{o.get("metadata", {}).get("namespace", "")}/{o.get("metadata", {}).get("name")}'
        try:
            checked = kubernetes_validate.validate(o, version, strict=True)
            results.append({"key": key, "validator": f"kubernetes {checked} (strict)", "error": None})
        except SchemaNotFoundError:
            schema = crds.get((o["apiVersion"], o["kind"]))
            if schema is None:
                results.append({"key": key, "validator": None, "error": f'no schema for {o["apiVersion"]} {o["kind"]}'})
                continue
            errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(o), key=lambda e: list(e.path))
            error = "; ".join(f'{"/".join(map(str, e.path))}: {e.message}' for e in errors) or None
            results.append({"key": key, "validator": "CRD openAPIV3Schema", "error": error})
        except kubernetes_validate.ValidationError as e:
            path = "/".join(map(str, e.path))
            results.append({"key": key, "validator": f"kubernetes {e.version} (strict)", "error": f"{path}: {e.message}"})
    return results


def main():
    if sys.argv[1:] == ["--versions"]:
        json.dump(sorted(set(all_versions()), key=lambda v: tuple(map(int, v.split(".")))), sys.stdout)
        return
    request = json.load(sys.stdin)
    objects = request["objects"]
    crds = crd_schemas(objects)
    json.dump({version: validate(version, objects, crds) for version in request["versions"]}, sys.stdout)


if __name__ == "__main__":
    main()
