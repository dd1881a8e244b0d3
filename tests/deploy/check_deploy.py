#!/usr/bin/python3
"""PayOnce's own rules for its deployment files, beyond schema validity.

    tests/deploy/check_deploy.py REPO_ROOT DEV.yaml PROD.yaml

DEV.yaml and PROD.yaml are the rendered overlays. Prints one PASS or FAIL
line per rule (with the offending objects) and exits 1 if any failed.
Needs PyYAML (Debian: python3-yaml).
"""

import json
import pathlib
import re
import shlex
import sys

import yaml

PROCESSES = ["order-service", "payment-service", "provider-sandbox", "outbox-relay", "reconciler"]
GRPC_SERVERS = ["order-service", "payment-service", "provider-sandbox"]
CONTRACT_PORTS = {  # CONTRACT.md section 6: host ports of the local stack
    "PAYONCE_ORDER_GRPC_PORT": "50051", "PAYONCE_PAYMENT_GRPC_PORT": "50052",
    "PAYONCE_PROVIDER_GRPC_PORT": "50053", "PAYONCE_ORDER_METRICS_PORT": "9464",
    "PAYONCE_PAYMENT_METRICS_PORT": "9465", "PAYONCE_PROVIDER_METRICS_PORT": "9466",
    "PAYONCE_RELAY_METRICS_PORT": "9467", "PAYONCE_RECONCILER_METRICS_PORT": "9468",
}
EXTERNAL_SECRETS = {"payonce-database", "payonce-callback"}

results = []


def rule(name):
    def wrap(fn):
        def run(*args):
            try:
                problems = list(fn(*args) or [])
            except Exception as e:  # a rule that crashes fails, with the reason
                problems = [f"{type(e).__name__}: {e}"]
            results.append((name, problems))
        return run
    return wrap


def load(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def name_of(o):
    return f"{o['kind']}/{o['metadata']['name']}"


def of_kind(objs, kind):
    return [o for o in objs if o["kind"] == kind]


def pod_spec(o):
    return o["spec"]["template"]["spec"]


def all_containers(o):
    spec = pod_spec(o)
    return spec.get("initContainers", []) + spec.get("containers", [])


def selector_matches(selector, labels):
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        val = labels.get(e["key"])
        op = e["operator"]
        if op == "In" and val not in e["values"]:
            return False
        if op == "NotIn" and val in e["values"]:
            return False
        if op == "Exists" and e["key"] not in labels:
            return False
        if op == "DoesNotExist" and e["key"] in labels:
            return False
    return True


def workloads(objs):
    return [o for o in objs if o["kind"] in ("Deployment", "Job")]


# -------------------------------------------------------------- Kubernetes
@rule("prod: every PayOnce process runs at least 2 replicas")
def prod_replicas(prod):
    deps = {o["metadata"]["name"]: o for o in of_kind(prod, "Deployment")}
    for p in PROCESSES:
        if p not in deps:
            yield f"no Deployment {p}"
        elif deps[p]["spec"].get("replicas", 1) < 2:
            yield f"Deployment/{p}: replicas {deps[p]['spec'].get('replicas', 1)}"
    for h in of_kind(prod, "HorizontalPodAutoscaler"):
        if h["spec"].get("minReplicas", 1) < 2:
            yield f"{name_of(h)}: minReplicas {h['spec'].get('minReplicas', 1)}"


@rule("HPAs scale existing Deployments, one per gRPC server")
def hpas(objs):
    deps = {o["metadata"]["name"] for o in of_kind(objs, "Deployment")}
    targets = set()
    for h in of_kind(objs, "HorizontalPodAutoscaler"):
        ref = h["spec"]["scaleTargetRef"]
        targets.add(ref["name"])
        if ref["kind"] != "Deployment" or ref["name"] not in deps:
            yield f"{name_of(h)}: target {ref['kind']}/{ref['name']} does not exist"
    for s in GRPC_SERVERS:
        if s not in targets:
            yield f"no HPA for {s}"


@rule("containers are hardened (non-root, read-only root, no privilege escalation, drop ALL, seccomp)")
def hardened(objs):
    for o in workloads(objs):
        psc = pod_spec(o).get("securityContext") or {}
        if (psc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
            yield f"{name_of(o)}: pod seccompProfile is not RuntimeDefault"
        if pod_spec(o).get("automountServiceAccountToken") is not False:
            yield f"{name_of(o)}: automountServiceAccountToken is not false"
        for c in all_containers(o):
            sc = c.get("securityContext") or {}
            where = f"{name_of(o)} container {c['name']}"
            if not (sc.get("runAsNonRoot") or psc.get("runAsNonRoot")):
                yield f"{where}: runAsNonRoot not set"
            if sc.get("readOnlyRootFilesystem") is not True:
                yield f"{where}: readOnlyRootFilesystem is not true"
            if sc.get("allowPrivilegeEscalation") is not False:
                yield f"{where}: allowPrivilegeEscalation is not false"
            if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
                yield f"{where}: capabilities.drop lacks ALL"


@rule("every container has CPU and memory requests and limits")
def resources(objs):
    for o in workloads(objs):
        for c in all_containers(o):
            r = c.get("resources") or {}
            for part in ("requests", "limits"):
                for res in ("cpu", "memory"):
                    if res not in (r.get(part) or {}):
                        yield f"{name_of(o)} container {c['name']}: no {part}.{res}"


@rule("gRPC servers have native gRPC probes on their gRPC port; workers httpGet probes")
def probes(objs):
    for o in of_kind(objs, "Deployment"):
        for c in pod_spec(o)["containers"]:
            ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                p = c.get(probe)
                where = f"{name_of(o)} {probe}"
                if not p:
                    yield f"{where}: missing"
                elif "grpc" in ports:
                    if (p.get("grpc") or {}).get("port") != ports["grpc"]:
                        yield f"{where}: not a gRPC probe of port {ports['grpc']}"
                elif (p.get("httpGet") or {}).get("port") not in ("metrics", ports.get("metrics")):
                    yield f"{where}: not an httpGet probe of the metrics port"


@rule("every Deployment spreads over nodes and zones and has a PodDisruptionBudget")
def spread_and_pdb(objs):
    pdbs = of_kind(objs, "PodDisruptionBudget")
    for o in of_kind(objs, "Deployment"):
        keys = {t["topologyKey"] for t in pod_spec(o).get("topologySpreadConstraints", [])}
        for k in ("kubernetes.io/hostname", "topology.kubernetes.io/zone"):
            if k not in keys:
                yield f"{name_of(o)}: no topologySpreadConstraint on {k}"
        labels = o["spec"]["template"]["metadata"]["labels"]
        if not any(selector_matches(p["spec"]["selector"], labels) for p in pdbs):
            yield f"{name_of(o)}: no PodDisruptionBudget selects its pods"


@rule("every Service selects pods and exposes a metrics port")
def services(objs):
    pods = [o["spec"]["template"]["metadata"]["labels"] for o in of_kind(objs, "Deployment")]
    for s in of_kind(objs, "Service"):
        sel = s["spec"].get("selector") or {}
        if not any(all(l.get(k) == v for k, v in sel.items()) for l in pods):
            yield f"{name_of(s)}: selects no pod"
        if "metrics" not in {p.get("name") for p in s["spec"]["ports"]}:
            yield f"{name_of(s)}: no port named metrics"


@rule("images are pinned (a tag other than latest, or a digest)")
def images(objs):
    for o in workloads(objs):
        for c in all_containers(o):
            img = c["image"]
            last = img.rsplit("/", 1)[-1]
            if "@" not in img and (":" not in last or last.endswith(":latest")):
                yield f"{name_of(o)} container {c['name']}: image {img} is not pinned"


@rule("referenced ConfigMaps exist; Secrets exist (dev) or are the documented external ones (prod)")
def references(objs, external_secrets_ok):
    have = {(o["kind"], o["metadata"]["name"]) for o in objs}
    for o in workloads(objs):
        for c in all_containers(o):
            refs = []
            for e in c.get("env", []):
                vf = e.get("valueFrom") or {}
                if "secretKeyRef" in vf:
                    refs.append(("Secret", vf["secretKeyRef"]["name"]))
                if "configMapKeyRef" in vf:
                    refs.append(("ConfigMap", vf["configMapKeyRef"]["name"]))
            for ef in c.get("envFrom", []):
                if "configMapRef" in ef:
                    refs.append(("ConfigMap", ef["configMapRef"]["name"]))
                if "secretRef" in ef:
                    refs.append(("Secret", ef["secretRef"]["name"]))
            for kind, name in refs:
                if (kind, name) in have:
                    continue
                if kind == "Secret" and external_secrets_ok and name in EXTERNAL_SECRETS:
                    continue
                yield f"{name_of(o)} container {c['name']}: {kind} {name} not found"


def _peer_matches(peer, labels):
    """Whether a from/to entry admits a pod with LABELS (over-approximated:
    an ipBlock or a bare namespaceSelector admits every pod)."""
    if "podSelector" in peer:
        return selector_matches(peer["podSelector"], labels)
    return True


def _policy_peers(policies, pods, target, direction, port):
    """PayOnce apps allowed to reach TARGET (ingress) or that TARGET may reach (egress) on PORT."""
    allowed = set()
    for pol in policies:
        spec = pol["spec"]
        if not selector_matches(spec["podSelector"], pods[target]):
            continue
        for r in spec.get(direction) or []:
            if r.get("ports") and not any(p.get("port") == port for p in r["ports"]):
                continue
            peers = r.get("from" if direction == "ingress" else "to")
            for other, labels in pods.items():
                if peers is None or any(_peer_matches(peer, labels) for peer in peers):
                    allowed.add(other)
    return allowed


@rule("NetworkPolicies: default deny; order port only for relay, reconciler, payment; provider reaches only payment")
def network_policies(objs):
    pols = of_kind(objs, "NetworkPolicy")
    pods = {o["metadata"]["name"]: o["spec"]["template"]["metadata"]["labels"]
            for o in of_kind(objs, "Deployment")}
    deny = [p for p in pols if not p["spec"].get("ingress") and not p["spec"].get("egress")
            and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}]
    if not deny or not all(any(selector_matches(d["spec"]["podSelector"], l) for d in deny)
                           for l in pods.values()):
        yield "no default-deny policy covering every PayOnce pod"
    expect = {
        ("order-service", "ingress"): {"outbox-relay", "reconciler", "payment-service"},
        ("payment-service", "ingress"): {"provider-sandbox"},
        ("provider-sandbox", "ingress"): {"payment-service", "reconciler"},
        ("provider-sandbox", "egress"): {"payment-service"},
        ("outbox-relay", "egress"): {"order-service"},
        ("reconciler", "egress"): {"order-service", "provider-sandbox"},
        ("payment-service", "egress"): {"order-service", "provider-sandbox"},
        ("order-service", "egress"): set(),
    }
    for (target, direction), want in expect.items():
        got = _policy_peers(pols, pods, target, direction, 50051) - {target}
        if got != want:
            yield f"{target} {direction} on 50051: {sorted(got)}, expected {sorted(want)}"


@rule("ServiceMonitor scrapes every PayOnce Service; PrometheusRule equals the compose rules")
def monitoring(prod, repo):
    sms = of_kind(prod, "ServiceMonitor")
    if len(sms) != 1:
        yield f"expected one ServiceMonitor, got {len(sms)}"
        return
    sel = sms[0]["spec"]["selector"]
    for s in of_kind(prod, "Service"):
        if not selector_matches(sel, s["metadata"].get("labels") or {}):
            yield f"ServiceMonitor does not select {name_of(s)}"
    if {e["port"] for e in sms[0]["spec"]["endpoints"]} != {"metrics"}:
        yield "ServiceMonitor endpoints are not the metrics port"
    rules = of_kind(prod, "PrometheusRule")
    compose_rules = yaml.safe_load((repo / "deploy/compose/prometheus/rules/payonce-alerts.yml").read_text())
    if len(rules) != 1 or rules[0]["spec"]["groups"] != compose_rules["groups"]:
        yield ("the PrometheusRule's groups differ from deploy/compose/prometheus/rules/"
               "payonce-alerts.yml: edit both")


# ------------------------------------------------------ images and compose
@rule("Dockerfile and Dockerfile.prebuilt share the same runtime stage")
def runtime_stage(repo):
    def stage(path):
        text = (repo / path).read_text()
        m = re.search(r"# BEGIN runtime stage.*?# END runtime stage", text, re.S)
        if not m:
            raise ValueError(f"{path}: no BEGIN/END runtime stage markers")
        return m.group(0)
    if stage("deploy/docker/Dockerfile") != stage("deploy/docker/Dockerfile.prebuilt"):
        yield "the runtime stages differ: copy the one of deploy/docker/Dockerfile"


def bash_array(text, name):
    """The words of the bash array NAME=( ... ) in TEXT, comments removed."""
    m = re.search(r"^%s=\((.*?)\n\)" % name, text, re.S | re.M)
    if not m:
        raise ValueError(f"no array {name}")
    return shlex.split(re.sub(r"#[^\n]*", "", m.group(1)))


def setup_packages(repo):
    return set(bash_array((repo / "scripts/setup").read_text(), "PACKAGES"))


@rule("the image's build packages are packages of scripts/setup")
def build_packages(repo):
    listed = setup_packages(repo)
    docker = (repo / "deploy/docker/Dockerfile").read_text()
    build = docker[docker.index("AS build"):docker.index("AS runtime")]
    m = re.search(r"apt-get install -y --no-install-recommends(.*?)&&", build, re.S)
    wanted = set(m.group(1).replace("\\", " ").split())
    for p in sorted(wanted - listed):
        yield f"{p} is installed by the Dockerfile's build stage but not by scripts/setup"


@rule("scripts/setup installs what the deploy tests need")
def deploy_test_packages(repo):
    listed = setup_packages(repo)
    podman_lib = (repo / "tests/deploy/lib/podman.sh").read_text()
    for p in bash_array(podman_lib, "DEPLOY_PACKAGES") + ["python3-yaml"]:
        if p not in listed:
            yield f"{p} is needed by tests/deploy but not in scripts/setup's PACKAGES"
    commands = [pair.split()[0] for pair in
                bash_array((repo / "scripts/setup").read_text(), "COMMAND_PACKAGES")]
    for c in ("node", "npm"):
        if c not in commands:
            yield f"{c} (validate_manifests.sh) is not in scripts/setup's COMMAND_PACKAGES"


def compose_doc(repo):
    return yaml.safe_load((repo / "deploy/docker-compose.yml").read_text())


@rule("compose: PayOnce services are hardened, health-checked and ordered")
def compose_services(repo):
    services = compose_doc(repo)["services"]
    for p in PROCESSES:
        s = services.get(p)
        if s is None:
            yield f"no service {p}"
            continue
        if s.get("command") != [p]:
            yield f"{p}: command is {s.get('command')}"
        if not (s.get("healthcheck") or {}).get("test"):
            yield f"{p}: no healthcheck"
        if s.get("read_only") is not True or s.get("cap_drop") != ["ALL"]:
            yield f"{p}: not read_only with cap_drop ALL"
        deps = s.get("depends_on") or {}
        if (deps.get("postgres") or {}).get("condition") != "service_healthy":
            yield f"{p}: does not depend on postgres being healthy"
        for d, cond in deps.items():
            want = "service_completed_successfully" if d.startswith("migrate-") else "service_healthy"
            if cond.get("condition") != want:
                yield f"{p}: depends_on {d} with {cond.get('condition')}, expected {want}"
    for m in ("migrate-order", "migrate-payment", "migrate-provider"):
        s = services.get(m) or {}
        if s.get("command") != ["payonce-migrate"] or s.get("restart") != "no":
            yield f"{m}: not a one-shot payonce-migrate"
    for name, s in services.items():
        if name.startswith("migrate-"):
            continue
        if not (s.get("healthcheck") or {}).get("test"):
            yield f"{name}: no healthcheck"


@rule("compose: host ports default to CONTRACT.md section 6, in the file and the example env")
def compose_ports(repo):
    text = (repo / "deploy/docker-compose.yml").read_text()
    env = dict(re.findall(r"^([A-Z_]+)=(.*)$", (repo / "deploy/compose/payonce.env.example").read_text(), re.M))
    for var, port in CONTRACT_PORTS.items():
        defaults = set(re.findall(r"\$\{" + var + r":-(\d+)\}", text))
        if defaults != {port}:
            yield f"docker-compose.yml: {var} defaults to {sorted(defaults)}, expected {port}"
        if env.get(var) != port:
            yield f"payonce.env.example: {var}={env.get(var)}, expected {port}"


@rule("Prometheus (compose) scrapes every PayOnce process, job named like the Kubernetes Service")
def compose_scrape(repo, prod):
    conf = yaml.safe_load((repo / "deploy/compose/prometheus/prometheus.yml").read_text())
    jobs = {j["job_name"]: [t for sc in j.get("static_configs", []) for t in sc["targets"]]
            for j in conf["scrape_configs"]}
    k8s_services = {s["metadata"]["name"] for s in of_kind(prod, "Service")}
    for p in PROCESSES:
        if jobs.get(p) != [f"{p}:9464"]:
            yield f"job {p}: targets {jobs.get(p)}, expected ['{p}:9464']"
        if p not in k8s_services:
            yield f"no Kubernetes Service {p} (the ServiceMonitor's job label)"


def exported_metrics(repo):
    names = set()
    for f in (repo / "services").rglob("*.cc"):
        text = f.read_text(errors="replace")
        names |= set(re.findall(r'\.Name\("([a-z_:][a-z0-9_:]*)"\)', text))
        names |= set(re.findall(r'Gauge\("((?:process)_[a-z0-9_]+)"', text))
    return names


def metric_names(expr):
    names = set(re.findall(r"\b((?:payonce|grpc_server|process)_[a-z0-9_]+)", expr))
    return {re.sub(r"_(bucket|sum|count)$", "", n) for n in names}


@rule("alert rules and the dashboard use only metrics the services export")
def metrics_exist(repo):
    known = exported_metrics(repo)
    if len(known) < 10:
        yield f"found only {len(known)} metric names in services/: the search is broken"
    rules = yaml.safe_load((repo / "deploy/compose/prometheus/rules/payonce-alerts.yml").read_text())
    for g in rules["groups"]:
        for r in g["rules"]:
            for n in sorted(metric_names(r["expr"]) - known):
                yield f"alert {r['alert']}: {n} is not exported by any service"
    dash = json.loads((repo / "deploy/compose/grafana/dashboards/payonce.json").read_text())
    for p in dash["panels"]:
        for t in p.get("targets", []):
            for n in sorted(metric_names(t["expr"]) - known):
                yield f"panel {p['title']!r}: {n} is not exported by any service"


@rule("Grafana: the dashboard uses the provisioned datasource, unique panel ids")
def dashboard(repo):
    dash = json.loads((repo / "deploy/compose/grafana/dashboards/payonce.json").read_text())
    ds = yaml.safe_load((repo / "deploy/compose/grafana/provisioning/datasources/prometheus.yml").read_text())
    uids = {d["uid"] for d in ds["datasources"]}
    ids = [p["id"] for p in dash["panels"]]
    if len(ids) != len(set(ids)):
        yield "duplicate panel ids"
    for p in dash["panels"]:
        for t in p.get("targets", []):
            if t["datasource"]["uid"] not in uids:
                yield f"panel {p['title']!r}: datasource {t['datasource']['uid']} not provisioned"
    prov = yaml.safe_load((repo / "deploy/compose/grafana/provisioning/dashboards/payonce.yml").read_text())
    compose = compose_doc(repo)["services"]["grafana"]
    mounted = {v.split(":")[1] for v in compose["volumes"]}
    for p in prov["providers"]:
        if p["options"]["path"] not in mounted:
            yield f"dashboard provider path {p['options']['path']} is not mounted in the grafana service"


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    repo = pathlib.Path(argv[1]).resolve()
    dev, prod = load(argv[2]), load(argv[3])
    prod_replicas(prod)
    for label, objs in (("dev", dev), ("prod", prod)):
        before = len(results)
        hpas(objs)
        hardened(objs)
        resources(objs)
        probes(objs)
        spread_and_pdb(objs)
        services(objs)
        images(objs)
        references(objs, label == "prod")
        network_policies(objs)
        for i in range(before, len(results)):
            results[i] = (f"{label}: {results[i][0]}", results[i][1])
    monitoring(prod, repo)
    runtime_stage(repo)
    build_packages(repo)
    deploy_test_packages(repo)
    compose_services(repo)
    compose_ports(repo)
    compose_scrape(repo, prod)
    metrics_exist(repo)
    dashboard(repo)
    failed = 0
    for name, problems in results:
        print(("FAIL " if problems else "PASS ") + name)
        for p in problems:
            print("    " + p)
        failed += bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
