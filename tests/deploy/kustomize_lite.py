#!/usr/bin/python3
"""Renders a kustomization without kubectl: the subset deploy/k8s uses.

    tests/deploy/kustomize_lite.py DIR                  print the objects as YAML
    tests/deploy/kustomize_lite.py DIR --compare FILE   also compare with FILE
                                                        (e.g. `kubectl kustomize DIR`)

Debian 12 has no kubectl that knows components (its kubernetes-client 1.20
embeds kustomize 2.0), so CI renders deploy/k8s with this; where a kubectl
with kustomize >= 4 exists, validate_manifests.sh renders with both and
requires the same objects.

Supported, following kustomize v5 semantics: resources (files, directories),
components (kind: Component), namespace, labels (pairs, includeTemplates;
not includeSelectors), images (name, newName, newTag, digest), replicas,
patches (inline or path; strategic merge or JSON 6902; optional target by
group, version, kind, name regex, namespace, labelSelector with = and !=).
Transformers run in kustomize's order: patches, namespace, labels,
replicas, images. Any other field is an error, never silently ignored.
Needs PyYAML (Debian: python3-yaml).
"""

import copy
import os
import re
import sys

import yaml

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
SUPPORTED_FIELDS = {
    "apiVersion", "kind", "resources", "components", "namespace", "labels", "images",
    "replicas", "patches",
}
CLUSTER_SCOPED = {
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
    "PersistentVolume", "StorageClass", "PriorityClass", "IngressClass", "RuntimeClass",
    "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "APIService",
}
# Where includeTemplates puts labels, by kind.
TEMPLATE_LABEL_PATHS = {
    "Deployment": [("spec", "template", "metadata", "labels")],
    "ReplicaSet": [("spec", "template", "metadata", "labels")],
    "DaemonSet": [("spec", "template", "metadata", "labels")],
    "StatefulSet": [("spec", "template", "metadata", "labels")],
    "ReplicationController": [("spec", "template", "metadata", "labels")],
    "Job": [("spec", "template", "metadata", "labels")],
    "CronJob": [("spec", "jobTemplate", "metadata", "labels"),
                ("spec", "jobTemplate", "spec", "template", "metadata", "labels")],
}
REPLICATED_KINDS = {"Deployment", "ReplicaSet", "StatefulSet", "ReplicationController"}
# Strategic-merge keys of the lists this renderer merges instead of replacing.
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "env": "name", "volumes": "name", "volumeMounts": "mountPath", "imagePullSecrets": "name",
    "topologySpreadConstraints": "topologyKey",
}


class KustomizeError(Exception):
    pass


def load_yaml_docs(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def find_kustomization(directory):
    for name in KUSTOMIZATION_FILES:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    raise KustomizeError(f"{directory}: no kustomization file")


def object_id(obj):
    meta = obj.get("metadata") or {}
    return (obj.get("apiVersion"), obj.get("kind"), meta.get("namespace"), meta.get("name"))


def group_version(obj):
    api = obj.get("apiVersion", "")
    return tuple(api.split("/", 1)) if "/" in api else ("", api)


# ---------------------------------------------------------------- patching
def strategic_merge(target, patch, field=None):
    """Merges PATCH into TARGET (both plain YAML data) and returns the result."""
    if isinstance(patch, dict):
        if any(k.startswith("$") for k in patch):
            raise KustomizeError(f"strategic-merge directives are not supported: {list(patch)}")
        if not isinstance(target, dict):
            return copy.deepcopy(patch)
        out = dict(target)
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            elif key in out:
                out[key] = strategic_merge(out[key], value, key)
            else:
                out[key] = copy.deepcopy(value)
        return out
    if isinstance(patch, list) and isinstance(target, list) and field in MERGE_KEYS:
        key = MERGE_KEYS[field]
        out = list(target)
        for item in patch:
            if not isinstance(item, dict) or key not in item:
                raise KustomizeError(f"list {field}: every patch item needs {key}")
            for i, existing in enumerate(out):
                if isinstance(existing, dict) and existing.get(key) == item[key]:
                    out[i] = strategic_merge(existing, item, None)
                    break
            else:
                out.append(copy.deepcopy(item))
        return out
    return copy.deepcopy(patch)


def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise KustomizeError(f"JSON pointer must start with /: {path}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def json6902(obj, ops):
    """Applies the add, replace and remove operations of RFC 6902."""
    obj = copy.deepcopy(obj)
    for op in ops:
        kind = op.get("op")
        parts = _pointer(op.get("path", ""))
        if not parts:
            raise KustomizeError("JSON patch on the whole object is not supported")
        parent = obj
        for p in parts[:-1]:
            if isinstance(parent, list):
                parent = parent[int(p)]
            elif isinstance(parent, dict) and p in parent:
                parent = parent[p]
            else:
                raise KustomizeError(f"JSON patch path {op['path']} does not exist")
        last = parts[-1]
        if kind in ("add", "replace"):
            value = copy.deepcopy(op["value"])
            if isinstance(parent, list):
                if last == "-":
                    parent.append(value)
                elif kind == "add":
                    parent.insert(int(last), value)
                else:
                    parent[int(last)] = value
            else:
                if kind == "replace" and last not in parent:
                    raise KustomizeError(f"JSON patch replace of a missing path {op['path']}")
                parent[last] = value
        elif kind == "remove":
            if isinstance(parent, list):
                del parent[int(last)]
            elif last in parent:
                del parent[last]
            else:
                raise KustomizeError(f"JSON patch remove of a missing path {op['path']}")
        else:
            raise KustomizeError(f"JSON patch op {kind} is not supported")
    return obj


def _selector_matches(selector, labels):
    for term in filter(None, (t.strip() for t in selector.split(","))):
        m = re.fullmatch(r"([^!=\s]+)\s*(!=|==|=)\s*(\S*)", term)
        if not m:
            raise KustomizeError(f"label selector term not supported: {term}")
        key, op, value = m.groups()
        if (labels.get(key) == value) != (op != "!="):
            return False
    return True


def target_matches(target, obj):
    unknown = set(target) - {"group", "version", "kind", "name", "namespace", "labelSelector",
                             "annotationSelector"}
    if unknown:
        raise KustomizeError(f"patch target fields not supported: {sorted(unknown)}")
    group, version = group_version(obj)
    meta = obj.get("metadata") or {}
    checks = [
        ("group", group), ("version", version), ("kind", obj.get("kind")),
        ("namespace", meta.get("namespace")),
    ]
    for field, actual in checks:
        if field in target and not re.fullmatch(target[field], actual or ""):
            return False
    if "name" in target and not re.fullmatch(target["name"], meta.get("name", "")):
        return False
    if "labelSelector" in target and not _selector_matches(target["labelSelector"],
                                                           meta.get("labels") or {}):
        return False
    if "annotationSelector" in target and not _selector_matches(target["annotationSelector"],
                                                                meta.get("annotations") or {}):
        return False
    return True


def apply_patch(objs, entry, base_dir):
    unknown = set(entry) - {"path", "patch", "target", "options"}
    if unknown or entry.get("options"):
        raise KustomizeError(f"patch fields not supported: {sorted(unknown | set(entry.get('options') or {}))}")
    if "path" in entry:
        docs = load_yaml_docs(os.path.join(base_dir, entry["path"]))
    else:
        docs = [d for d in yaml.safe_load_all(entry["patch"]) if d is not None]
    if len(docs) != 1:
        raise KustomizeError(f"a patch must hold one document, got {len(docs)}")
    patch = docs[0]
    target = entry.get("target")
    matched = 0
    for i, obj in enumerate(objs):
        if target is not None:
            if not target_matches(target, obj):
                continue
        else:
            if not isinstance(patch, dict):
                raise KustomizeError("a JSON 6902 patch needs a target")
            pm = patch.get("metadata") or {}
            om = obj.get("metadata") or {}
            if (group_version(patch)[0] != group_version(obj)[0] or patch.get("kind") != obj.get("kind")
                    or pm.get("name") != om.get("name")
                    or ("namespace" in pm and pm["namespace"] != om.get("namespace"))):
                continue
        if isinstance(patch, list):
            objs[i] = json6902(obj, patch)
        else:
            body = copy.deepcopy(patch)
            if target is not None:
                # The target chose the objects: the patch's own name does not count.
                body.pop("apiVersion", None)
                body.pop("kind", None)
                (body.get("metadata") or {}).pop("name", None)
                if body.get("metadata") == {}:
                    body.pop("metadata")
            objs[i] = strategic_merge(obj, body)
        matched += 1
    if matched == 0:
        raise KustomizeError(f"patch matched no object: {entry.get('path') or entry.get('target')}")


# ------------------------------------------------------------ transformers
def set_path(obj, path, pairs):
    node = obj
    for p in path[:-1]:
        if not isinstance(node, dict) or p not in node:
            return
        node = node[p]
    if isinstance(node, dict):
        node.setdefault(path[-1], {})
        if node[path[-1]] is None:
            node[path[-1]] = {}
        node[path[-1]].update(pairs)


def apply_labels(objs, entries):
    for entry in entries:
        unknown = set(entry) - {"pairs", "includeTemplates", "includeSelectors"}
        if unknown:
            raise KustomizeError(f"labels fields not supported: {sorted(unknown)}")
        if entry.get("includeSelectors"):
            raise KustomizeError("labels.includeSelectors is not supported")
        pairs = {str(k): str(v) for k, v in (entry.get("pairs") or {}).items()}
        for obj in objs:
            set_path(obj, ("metadata", "labels"), pairs)
            if entry.get("includeTemplates"):
                for path in TEMPLATE_LABEL_PATHS.get(obj.get("kind"), []):
                    set_path(obj, path, pairs)


def apply_namespace(objs, namespace):
    for obj in objs:
        if obj.get("kind") not in CLUSTER_SCOPED:
            obj.setdefault("metadata", {})["namespace"] = namespace


def apply_replicas(objs, entries):
    for entry in entries:
        hits = [o for o in objs
                if o.get("kind") in REPLICATED_KINDS and o["metadata"].get("name") == entry["name"]]
        if not hits:
            raise KustomizeError(f"replicas: no workload named {entry['name']}")
        for obj in hits:
            obj.setdefault("spec", {})["replicas"] = int(entry["count"])


def _split_image(image):
    digest = None
    if "@" in image:
        image, digest = image.split("@", 1)
    name, tag = image, None
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        name, tag = image[:colon], image[colon + 1:]
    return name, tag, digest


def apply_images(objs, entries):
    def visit(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("containers", "initContainers") and isinstance(value, list):
                    for c in value:
                        if isinstance(c, dict) and isinstance(c.get("image"), str):
                            c["image"] = rewrite(c["image"])
                else:
                    visit(value)
        elif isinstance(node, list):
            for item in node:
                visit(item)

    def rewrite(image):
        name, tag, digest = _split_image(image)
        for e in entries:
            unknown = set(e) - {"name", "newName", "newTag", "digest"}
            if unknown:
                raise KustomizeError(f"images fields not supported: {sorted(unknown)}")
            if e["name"] != name:
                continue
            name = e.get("newName", name)
            if "digest" in e:
                return f"{name}@{e['digest']}"
            tag = str(e["newTag"]) if "newTag" in e else tag
            break
        out = name + (f":{tag}" if tag else "")
        return out + (f"@{digest}" if digest else "")

    for obj in objs:
        visit(obj.get("spec"))


# ------------------------------------------------------------------ build
def load_resource(path):
    if os.path.isdir(path):
        return build(path)
    if not os.path.isfile(path):
        raise KustomizeError(f"resource not found: {path}")
    return load_yaml_docs(path)


def build(directory, accumulated=None):
    """Renders the kustomization in DIRECTORY; a component transforms ACCUMULATED."""
    path = find_kustomization(directory)
    docs = load_yaml_docs(path)
    k = docs[0] if docs else {}
    unknown = set(k) - SUPPORTED_FIELDS
    if unknown:
        raise KustomizeError(f"{path}: fields not supported: {sorted(unknown)}")
    is_component = k.get("kind") == "Component"
    if is_component != (accumulated is not None):
        raise KustomizeError(f"{path}: a Component must be listed under components, "
                             "and only a Component there")
    objs = accumulated if accumulated is not None else []
    for res in k.get("resources") or []:
        if "://" in res or res.startswith("github.com/"):
            raise KustomizeError(f"{path}: remote resources are not supported: {res}")
        objs.extend(load_resource(os.path.join(directory, res)))
    for comp in k.get("components") or []:
        objs = build(os.path.join(directory, comp), objs)
    for entry in k.get("patches") or []:
        apply_patch(objs, entry, directory)
    if k.get("namespace"):
        apply_namespace(objs, k["namespace"])
    apply_labels(objs, k.get("labels") or [])
    apply_replicas(objs, k.get("replicas") or [])
    apply_images(objs, k.get("images") or [])
    seen = set()
    for obj in objs:
        oid = object_id(obj)
        if oid in seen:
            raise KustomizeError(f"{path}: two objects with the id {oid}")
        seen.add(oid)
    return objs


def compare(mine, theirs):
    """Lists the differences between two renderings, object by object."""
    a = {object_id(o): o for o in mine}
    b = {object_id(o): o for o in theirs}
    problems = [f"only in kustomize_lite: {i}" for i in sorted(set(a) - set(b), key=str)]
    problems += [f"only in the other rendering: {i}" for i in sorted(set(b) - set(a), key=str)]
    for oid in sorted(set(a) & set(b), key=str):
        if a[oid] != b[oid]:
            left = yaml.safe_dump(a[oid], sort_keys=True).splitlines()
            right = yaml.safe_dump(b[oid], sort_keys=True).splitlines()
            import difflib
            diff = "\n".join(difflib.unified_diff(left, right, "kustomize_lite", "other", lineterm="", n=1))
            problems.append(f"differs: {oid}\n{diff}")
    return problems


def main(argv):
    if len(argv) not in (2, 4) or (len(argv) == 4 and argv[2] != "--compare"):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        objs = build(argv[1])
    except (KustomizeError, OSError, yaml.YAMLError, KeyError, ValueError, IndexError) as e:
        print(f"kustomize_lite: {e}", file=sys.stderr)
        return 1
    if len(argv) == 4:
        problems = compare(objs, load_yaml_docs(argv[3]))
        for p in problems:
            print(p, file=sys.stderr)
        if problems:
            return 1
        print(f"kustomize_lite: {len(objs)} objects, the same as {argv[3]}", file=sys.stderr)
        return 0
    yaml.safe_dump_all(objs, sys.stdout, sort_keys=True, default_flow_style=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
