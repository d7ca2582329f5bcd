"""Validates Kubernetes objects against the OpenAPI schemas of one Kubernetes version.

Reads {"version": "1.31.4", "objects": [...]} as JSON on stdin. Built-in kinds are checked with the strict
(no unknown fields) schemas kubernetes-validate ships per Kubernetes version; custom resources against the
openAPIV3Schema of a CustomResourceDefinition among the objects. Prints one JSON result per object.
"""
import json
import sys

import jsonschema
import kubernetes_validate
from kubernetes_validate.utils import SchemaNotFoundError


def crd_schemas(objects):
    schemas = {}
    for o in objects:
        if o.get("kind") != "CustomResourceDefinition":
            continue
        spec = o["spec"]
        for v in spec["versions"]:
            schemas[(f'{spec["group"]}/{v["name"]}', spec["names"]["kind"])] = v["schema"]["openAPIV3Schema"]
    return schemas


def main():
    request = json.load(sys.stdin)
    version = request["version"]
    objects = request["objects"]
    crds = crd_schemas(objects)
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
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
