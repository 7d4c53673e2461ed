#!/usr/bin/env python3
"""Provider figures (not part of the test suite): apply and destroy wall time of a 1+2
replication group, a 3x(1+2) cluster-mode group, a Redis serverless cache and a two-region
global datastore (a 2-node primary group in us-east-1, the datastore, a 2-node secondary group
in us-west-2 through an aliased provider), with our provider and with HashiCorp's 5.100.0, on
the same HCL (only `source` differs) against one backend on the process runtime; and the peak
RSS of the provider processes each command starts, sampled from /proc/<pid>/status (VmHWM)
every 20 ms (GNU time is not needed).

  tests/provider-figures.py [--profile debug|release] [--runs N] [--only LABEL ...]

Builds nothing: run `cargo build [-r] -p terraform-provider-elasticache -p elasticache-local`
first (CARGO_TARGET_DIR is honoured). HashiCorp's provider comes from the plugin mirror
TF_PLUGIN_MIRROR (default /opt/tf-plugins); without it only ours is measured. Prints a
Markdown table.
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PROVIDER = """terraform {{
  required_providers {{
    aws = {{
      source = "{source}"
{version}    }}
  }}
}}

provider "aws" {{
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  endpoints {{
    elasticache = "{endpoint}"
  }}
}}
"""

# The aliased provider of the second region (global datastores).
WEST = """
provider "aws" {{
  alias                       = "west"
  region                      = "us-west-2"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  endpoints {{
    elasticache = "{endpoint}"
  }}
}}
"""

GROUPS = {
    "1+2 group": """
resource "aws_elasticache_replication_group" "g" {{
  replication_group_id       = "{id}"
  description                = "figures 1+2"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = "cache.t3.micro"
  port                       = 6379
  num_cache_clusters         = 3
  automatic_failover_enabled = true
  apply_immediately          = true
}}
""",
    "3x(1+2) cluster-mode group": """
resource "aws_elasticache_replication_group" "g" {{
  replication_group_id       = "{id}"
  description                = "figures 3x(1+2)"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = "cache.t3.micro"
  port                       = 6379
  parameter_group_name       = "default.redis7.cluster.on"
  num_node_groups            = 3
  replicas_per_node_group    = 2
  automatic_failover_enabled = true
  apply_immediately          = true
}}
""",
    "serverless cache (redis)": """
resource "aws_elasticache_serverless_cache" "c" {{
  name                 = "{id}"
  engine               = "redis"
  major_engine_version = "7"
  cache_usage_limits {{
    data_storage {{
      maximum = 10
      unit    = "GB"
    }}
  }}
}}
""",
    "two-region global datastore": """
resource "aws_elasticache_replication_group" "primary" {{
  replication_group_id = "{id}-p"
  description          = "figures primary"
  engine               = "redis"
  engine_version       = "7.1"
  node_type            = "cache.m5.large"
  num_cache_clusters   = 2
  port                 = 6379
}}

resource "aws_elasticache_global_replication_group" "g" {{
  global_replication_group_id_suffix = "{id}"
  primary_replication_group_id       = aws_elasticache_replication_group.primary.id
}}

resource "aws_elasticache_replication_group" "secondary" {{
  provider = aws.west

  replication_group_id        = "{id}-s"
  description                 = "figures secondary"
  global_replication_group_id = aws_elasticache_global_replication_group.g.global_replication_group_id
  num_cache_clusters          = 2
}}
""",
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vm_hwm_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def session_providers(sid):
    """PIDs of terraform-provider-* processes in session `sid`."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1: stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[3]) == sid and comm.startswith("terraform-prov"):
            out.append(int(d))
    return out


def run(workdir, rc, args):
    """Run terraform in its own session; (ok, seconds, peak provider RSS KiB, starts, tail)."""
    env = dict(os.environ, TF_CLI_CONFIG_FILE=rc, TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1")
    env.pop("TF_LOG", None)
    log = open(os.path.join(workdir, "out.log"), "w")
    t0 = time.monotonic()
    p = subprocess.Popen(["terraform", *args], cwd=workdir, env=env, stdout=log,
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    peaks = {}
    while p.poll() is None:
        for pid in session_providers(p.pid):
            v = vm_hwm_kib(pid)
            if v is not None:
                peaks[pid] = max(peaks.get(pid, 0), v)
        time.sleep(0.02)
    wall = time.monotonic() - t0
    log.close()
    tail = open(os.path.join(workdir, "out.log")).read().splitlines()[-15:]
    return p.returncode == 0, wall, max(peaks.values(), default=0), len(peaks), "\n".join(tail)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="debug")
    ap.add_argument("--runs", type=int, default=1, help="apply/destroy cycles per provider and group")
    ap.add_argument("--only", nargs="*", choices=list(GROUPS), help="measure only these HCLs")
    a = ap.parse_args()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    bins = os.path.join(target, a.profile)
    mirror = os.environ.get("TF_PLUGIN_MIRROR", "/opt/tf-plugins")
    have_hashi = os.path.isdir(os.path.join(mirror, "registry.terraform.io/hashicorp/aws/5.100.0"))

    work = tempfile.mkdtemp(prefix="provider-figures-")
    data = os.path.join(work, "data")
    os.makedirs(data)
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    backend_log = open(os.path.join(work, "backend.log"), "w")
    backend = subprocess.Popen([os.path.join(bins, "elasticache-local"), "--listen", f"127.0.0.1:{port}",
                                "--runtime", "process", "--data-dir", data],
                               stdout=backend_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    sys.exit("backend did not listen")
                time.sleep(0.05)

        providers = [("ours", "elasticache-local/aws", "",
                      'provider_installation {\n  dev_overrides {\n    "registry.terraform.io/elasticache-local/aws" = "%s"\n  }\n  direct {}\n}\n' % bins,
                      False)]
        if have_hashi:
            providers.append(("HashiCorp 5.100.0", "hashicorp/aws", '      version = "5.100.0"\n',
                              'provider_installation {\n  filesystem_mirror {\n    path    = "%s"\n    include = ["registry.terraform.io/hashicorp/aws"]\n  }\n}\n' % mirror,
                              True))
        rows = []
        n = 0
        for label, hcl in GROUPS.items():
            if a.only and label not in a.only:
                continue
            for name, source, version, rc_text, init in providers:
                d = os.path.join(work, f"tf{n}")
                os.makedirs(d)
                rc = os.path.join(d, "cli.tfrc")
                open(rc, "w").write(rc_text)
                applies, destroys, rss, starts = [], [], 0, 0
                failed = None
                for i in range(a.runs):
                    n += 1
                    gid = f"fig-{n}"
                    open(os.path.join(d, "main.tf"), "w").write(
                        PROVIDER.format(source=source, version=version, endpoint=endpoint)
                        + (WEST.format(endpoint=endpoint) if "aws.west" in hcl else "")
                        + hcl.format(id=gid))
                    if init and i == 0:
                        ok, _, _, _, tail = run(d, rc, ["init", "-input=false", "-no-color"])
                        if not ok:
                            sys.exit(f"{name}: init failed\n{tail}")
                    for cmd, into in (("apply", applies), ("destroy", destroys)):
                        ok, wall, peak, k, tail = run(d, rc, [cmd, "-auto-approve", "-input=false", "-no-color"])
                        rss, starts = max(rss, peak), max(starts, k)
                        if not ok:
                            # Recorded, not fatal: the other rows are still measured.
                            print(f"{name} {label} {cmd} failed after {wall:.1f} s\n{tail}", file=sys.stderr)
                            failed = f"{cmd} failed after {wall:.1f} s"
                            break
                        into.append(wall)
                    if failed:
                        break
                    print(f"{label} / {name}: apply {applies[-1]:.2f} s, destroy {destroys[-1]:.2f} s, "
                          f"peak provider RSS {rss / 1024:.1f} MiB", file=sys.stderr)
                rows.append((label, name, applies, destroys, rss, failed))
        print("| HCL | provider | apply | destroy | peak provider RSS (VmHWM) |")
        print("|---|---|---:|---:|---:|")

        def cell(v):
            return f"{statistics.median(v):.2f} s" if v else "—"
        for label, name, ap_, de, rss, failed in rows:
            note = f" ({failed})" if failed else ""
            print(f"| {label} | {name} | {cell(ap_)} | {cell(de)}{note} | {rss / 1024:.1f} MiB |")
        print(f"\n({a.runs} apply/destroy cycle(s) each, median; backend and our provider: {a.profile} build; "
              f"process runtime; Terraform {terraform_version()})")
    finally:
        backend.kill()
        backend.wait()
        nodes = os.path.join(data, "nodes")
        if os.path.isdir(nodes):
            for e in os.listdir(nodes):
                try:
                    pid = int(open(os.path.join(nodes, e, "node.pid")).read().strip())
                    os.kill(pid, 9)
                except (OSError, ValueError):
                    pass
        shutil.rmtree(work, ignore_errors=True)


def terraform_version():
    try:
        out = subprocess.run(["terraform", "version"], capture_output=True, text=True).stdout
        return out.split()[1]
    except (OSError, IndexError):
        return "?"


if __name__ == "__main__":
    main()
