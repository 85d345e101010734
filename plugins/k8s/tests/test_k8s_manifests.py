# SPDX-License-Identifier: MIT
"""The Kubernetes manifests of packaging/k8s/ are consistent and usable:

1. every document parses (YAML), has the apiVersion a current cluster serves
   for its kind, a name, and the namespace `alumet` where it is namespaced;
2. the DaemonSet's selector matches its pod labels; its service account,
   ConfigMap and volumes exist; every volumeMount names a volume; the host's
   /proc and /sys are mounted read-only at /host/proc and /host/sys; the
   container is not privileged, drops ALL and adds exactly PERFMON,
   DAC_READ_SEARCH and SYS_PTRACE (the list its comment justifies);
3. the ClusterRole grants get/list on pods and get on nodes/proxy, nothing
   else, and is bound to the DaemonSet's service account;
4. the ConfigMap's alumet-config.toml passes `alumet-agent config check`,
   enables k8s with the service account token, and points proc_root and
   sys_root of every plugin at the mounts (/host);
5. where kubectl is installed, `kubectl kustomize` builds the directory
   (offline) into the same 6 objects.
Skipped when python3-yaml is absent."""
import os
import shutil
import subprocess
import sys
import tempfile

from e2e_common import AGENT, check, skip_reason, summary

DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "packaging",
                   "k8s")
API = {"Namespace": "v1", "ServiceAccount": "v1", "ConfigMap": "v1",
       "ClusterRole": "rbac.authorization.k8s.io/v1",
       "ClusterRoleBinding": "rbac.authorization.k8s.io/v1", "DaemonSet": "apps/v1"}
CLUSTER_WIDE = {"Namespace", "ClusterRole", "ClusterRoleBinding"}


def main():
    reason = skip_reason(("k8s",))
    try:
        import yaml
    except ImportError:
        reason = reason or "python3-yaml is not installed (scripts/install-deps.sh installs it)"
    if reason:
        print("SKIP: " + reason)
        return 77
    docs = []
    with open(os.path.join(DIR, "kustomization.yaml")) as f:
        files = yaml.safe_load(f)["resources"]
    check(sorted(files) == sorted(n for n in os.listdir(DIR)
                                  if n.endswith(".yaml") and n != "kustomization.yaml"),
          "kustomization resources: %r" % files)
    for name in files:
        with open(os.path.join(DIR, name)) as f:
            docs += [d for d in yaml.safe_load_all(f) if d]
    objs = {}
    for d in docs:
        kind = d.get("kind")
        check(API.get(kind) == d.get("apiVersion"), "%s apiVersion %r" % (kind, d.get("apiVersion")))
        meta = d.get("metadata", {})
        check(bool(meta.get("name")), "%s without a name" % kind)
        check((meta.get("namespace") == "alumet") == (kind not in CLUSTER_WIDE),
              "%s %s namespace %r" % (kind, meta.get("name"), meta.get("namespace")))
        objs[(kind, meta.get("name"))] = d
    check(sorted(k for k, _ in objs) == sorted(API), "objects: %r" % sorted(objs))

    # 2. the DaemonSet
    ds = objs[("DaemonSet", "alumet-agent")]["spec"]
    pod = ds["template"]["spec"]
    check(ds["selector"]["matchLabels"].items() <= ds["template"]["metadata"]["labels"].items(),
          "selector %r" % ds["selector"])
    check(("ServiceAccount", pod["serviceAccountName"]) in objs, "service account")
    vols = {v["name"]: v for v in pod["volumes"]}
    check(("ConfigMap", vols["config"]["configMap"]["name"]) in objs, "config volume")
    (c,) = pod["containers"]
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    check(all(m["name"] in vols for m in c["volumeMounts"]), "a mount without its volume")
    check(all(m.get("readOnly") is True for m in c["volumeMounts"]), "a writable mount")
    for path, host in (("/host/proc", "/proc"), ("/host/sys", "/sys")):
        check(path in mounts and vols[mounts[path]["name"]]["hostPath"]["path"] == host,
              "%s is not the host's %s" % (path, host))
    sc = c["securityContext"]
    check(sc.get("privileged") is False and sc.get("allowPrivilegeEscalation") is False
          and sc.get("readOnlyRootFilesystem") is True, "securityContext %r" % sc)
    check(sc["capabilities"] == {"drop": ["ALL"],
                                 "add": ["PERFMON", "DAC_READ_SEARCH", "SYS_PTRACE"]},
          "capabilities %r" % sc["capabilities"])
    check(c["args"][:2] == ["--config", "/etc/alumet/alumet-config.toml"]
          and mounts["/etc/alumet"]["name"] == "config", "args %r" % c["args"])
    check({p["containerPort"] for p in c["ports"]} == {9091}, "ports %r" % c["ports"])

    # 3. RBAC
    role = objs[("ClusterRole", "alumet-reader")]
    check(role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
                            {"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["get"]}],
          "rules %r" % role["rules"])
    binding = objs[("ClusterRoleBinding", "alumet-reader")]
    check(binding["roleRef"]["name"] == "alumet-reader"
          and binding["subjects"] == [{"kind": "ServiceAccount", "name": pod["serviceAccountName"],
                                       "namespace": "alumet"}], "binding %r" % binding)

    # 4. the configuration
    toml = objs[("ConfigMap", "alumet-config")]["data"]["alumet-config.toml"]
    tmp = tempfile.mkdtemp(prefix="alumet-k8s-manifests-")
    try:
        cfg = os.path.join(tmp, "alumet-config.toml")
        with open(cfg, "w") as f:
            f.write(toml)
        r = subprocess.run([AGENT, "--config", cfg, "--no-default-config", "config", "check"],
                           capture_output=True, text=True, timeout=60, cwd=tmp)
        check(r.returncode == 0 and "is valid" in r.stdout,
              "config check: %d %s %s" % (r.returncode, r.stdout, r.stderr))
        check('token_retrieval = "file"' in toml and "enabled = true" in toml
              and 'k8s_api_url = "https://kubernetes.default.svc"' in toml, "k8s section")
        roots = [line.split("=")[1].strip() for line in toml.splitlines()
                 if line.strip().startswith(("proc_root", "sys_root"))]
        check(roots and all(r == '"/host"' for r in roots), "roots %r" % roots)
        # 5. kustomize, offline
        if shutil.which("kubectl"):
            r = subprocess.run(["kubectl", "kustomize", DIR], capture_output=True, text=True,
                               timeout=60)
            built = [d for d in yaml.safe_load_all(r.stdout) if d] if r.returncode == 0 else []
            check(sorted((d["kind"], d["metadata"]["name"]) for d in built) == sorted(objs),
                  "kubectl kustomize: %d %s" % (r.returncode, r.stderr))
        else:
            print("kubectl is not installed: the kustomize build is not checked")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return summary(5)


if __name__ == "__main__":
    sys.exit(main())
