#!/usr/bin/env python3
"""Check deploy/ against the real gatescope build.

  check_manifests.py [--root DIR] [--deploy DIR] [--no-gatescope] [--no-prometheus] [--no-live]

Parses deploy/Dockerfile, deploy/daemonset.yaml, deploy/prometheus-scrape.yml
and deploy/grafana-dashboard.json and checks the fields that matter against what
the repository really builds: the binary path and install path from the
Makefile, the flags from `build/gatescope --help`, the shared libraries from
`ldd`, the Debian packages from apt, and the metric names gatescope exports
(scraped from a live `--metrics` endpoint when this build has one and we are
root, else the contract list below).

Prints one "PASS name" / "FAIL name: why" / "SKIP name: why" line per check;
exits 1 if any check failed.  Needs python3-yaml (Debian 12: python3-yaml).
"""
import argparse
import hashlib
import json
import glob
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

try:
	import yaml
except ImportError:
	yaml = None

# The metrics the dashboard must cover: the core families of
# docs/reference.md ("Prometheus metrics"), with
# gatescope_inferred_timeout_seconds, the inferred hop timeouts of the JSON
# "timeouts" list as a gauge.  This is the one place the
# checker lists them; a live scrape replaces it when the build can serve one.
CONTRACT_METRICS = {
	"gatescope_requests_total": ("counter", {"route", "status_class"}),
	"gatescope_504_total": ("counter", {"route", "backend", "cause", "reason"}),
	"gatescope_upstream_connect_seconds": ("histogram", {"backend"}),
	"gatescope_upstream_ttfb_seconds": ("histogram", {"backend"}),
	"gatescope_resets_total": ("counter", {"backend", "direction"}),
	"gatescope_retransmits_total": ("counter", {"backend"}),
	"gatescope_timeout_closes_total": ("counter", {"backend", "closer"}),
	"gatescope_lost_events_total": ("counter", set()),
	"gatescope_inferred_timeout_seconds": ("gauge", {"closer", "peer", "kind"}),
}
# Labels Prometheus attaches to every scraped series itself.  Relabelling
# configs add more (namespace, pod, node), but the dashboard must not rely
# on any particular one.
TARGET_LABELS = {"instance", "job"}

# Debian packages the build stage needs: the build half of
# tools/install-deps.sh (each must also be listed there).
BUILD_PKGS = ["make", "gcc", "clang", "llvm", "libbpf-dev", "bpftool", "libelf-dev",
	      "zlib1g-dev", "pkg-config", "libmicrohttpd-dev", "libncurses-dev", "libnghttp2-dev"]
# Never in the runtime stage.
TOOLCHAIN = {"make", "gcc", "clang", "llvm", "bpftool", "pkg-config", "build-essential"}

CAPS = {"BPF", "PERFMON", "NET_ADMIN", "SYS_RESOURCE", "SYS_PTRACE"}
HOST_MOUNTS = ["/sys/kernel/btf", "/sys/kernel/tracing", "/sys/fs/bpf"]

PROMQL_AGGREGATORS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count",
		      "count_values", "bottomk", "topk", "quantile", "limitk", "limit_ratio"}
PROMQL_FUNCTIONS = {
	"abs", "absent", "absent_over_time", "ceil", "changes", "clamp", "clamp_max",
	"clamp_min", "day_of_month", "day_of_week", "day_of_year", "days_in_month",
	"delta", "deriv", "exp", "floor", "histogram_avg", "histogram_count",
	"histogram_fraction", "histogram_quantile", "histogram_stddev",
	"histogram_stdvar", "histogram_sum", "holt_winters", "hour", "idelta",
	"increase", "irate", "label_join", "label_replace", "ln", "log2", "log10",
	"minute", "month", "predict_linear", "rate", "resets", "round", "scalar",
	"sgn", "sort", "sort_desc", "sqrt", "time", "timestamp", "vector", "year",
	"avg_over_time", "min_over_time", "max_over_time", "sum_over_time",
	"count_over_time", "quantile_over_time", "stddev_over_time",
	"stdvar_over_time", "last_over_time", "present_over_time",
}
PROMQL_GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
PROMQL_KEYWORDS = {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"}
COUNTER_FUNCS = {"rate", "irate", "increase", "resets"}
GRAFANA_BUILTINS = {"__rate_interval", "__interval", "__interval_ms", "__range",
		    "__range_s", "__range_ms", "__auto", "__all"}

results = []


def report(name, errors, skip=None):
	name = "deploy/" + name
	if skip:
		print(f"SKIP {name}: {skip}")
	elif errors:
		print(f"FAIL {name}: " + "; ".join(errors))
	else:
		print(f"PASS {name}")
	results.append((name, bool(errors) and not skip))
	sys.stdout.flush()


def run(cmd, **kw):
	"""Run a command.  Package queries (apt-cache, dpkg) are slow and give
	the same answer all run long: with GS_DEPLOY_CACHE=DIR they are kept
	there, so checking many copies of the manifests stays quick."""
	cache = os.environ.get("GS_DEPLOY_CACHE")
	path = None
	if cache and cmd[0] in ("apt-cache", "dpkg") and not kw:
		path = os.path.join(cache, hashlib.sha1("\0".join(cmd).encode()).hexdigest())
		try:
			with open(path) as f:
				rc, out = json.load(f)
			return subprocess.CompletedProcess(cmd, rc, out, "")
		except (OSError, ValueError):
			pass
	r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
			   text=True, timeout=60, **kw)
	if path:
		with open(path, "w") as f:
			json.dump([r.returncode, r.stdout], f)
	return r


# ---------------------------------------------------------------- the build

class Build:
	"""What the repository really builds: asked of make and of the binary."""

	def __init__(self, root):
		self.root = root
		self.errors = []
		self.binary = os.path.join(root, "build", "gatescope")
		# `make -n install` prints the install command with the built binary
		# and the installed path, as the Makefile computes them.
		out = run(["make", "-s", "--no-print-directory", "-C", root, "-n", "install",
			   "DESTDIR=/GSDESTDIR"]).stdout
		m = re.search(r"^install .*?(\S+) /GSDESTDIR(/\S+)$", out, re.M)
		if not m:
			self.errors.append("`make -n install` printed no install command")
			self.built_rel, self.install_path = "build/gatescope", "/usr/local/sbin/gatescope"
		else:
			self.built_rel, self.install_path = m.group(1), m.group(2)
		self.binary = os.path.join(root, self.built_rel)
		self.sources = self._sources()
		self.help = ""
		self.version = None
		if not os.access(self.binary, os.X_OK):
			self.errors.append(f"{self.built_rel} is not built (run make)")
			return
		self.help = run([self.binary, "--help"]).stdout
		v = run([self.binary, "--version"]).stdout.split()
		self.version = v[1] if len(v) == 2 else None
		self.options = parse_help(self.help)

	def _sources(self):
		"""Top-level entries of the repository that `make all` reads."""
		with tempfile.TemporaryDirectory() as d:
			out = run(["make", "--no-print-directory", "-C", self.root, "-n", "-B",
				   f"BUILD={d}/b", "all"]).stdout
		need = {"Makefile"}
		for tok in re.split(r"[\s'\"]+", out):
			tok = re.sub(r"^-I", "", tok)
			if not tok or tok.startswith(("/", "-", "$")):
				continue
			top = tok.split("/")[0]
			path = os.path.join(self.root, top)
			if top in (".", "..", "build") or not os.path.exists(path):
				continue
			if "/" in tok or os.path.isdir(path):	# a source file, or an -I directory
				need.add(top)
		return need

	def metrics_in_help(self):
		"""The --metrics help line, or None."""
		for line in self.help.splitlines():
			if "--metrics" in line:
				return line
		return None


def parse_help(text):
	"""Options from --help: {flag: takes_value}, for -x and --long forms."""
	opts = {}
	rx = re.compile(r"^\s{1,8}(?:(-[A-Za-z0-9]),\s+)?(--[a-z0-9][a-z0-9-]*)(?:[ =]([A-Z][A-Z0-9_.,:\[\]-]*))?")
	for line in text.splitlines():
		m = rx.match(line)
		if not m:
			continue
		takes = m.group(3) is not None
		opts[m.group(2)] = takes
		if m.group(1):
			opts[m.group(1)] = takes
	return opts


def check_args(build, argv, where):
	"""Every flag in argv is one --help lists, with a value where it takes one."""
	errs = []
	i = 0
	while i < len(argv):
		a = argv[i]
		i += 1
		if not a.startswith("-") or a == "-":
			errs.append(f"{where}: stray argument '{a}'")
			continue
		flag, inline = (a.split("=", 1) + [None])[:2] if a.startswith("--") else (a[:2], a[2:] or None)
		if flag not in build.options:
			errs.append(f"{where}: {flag} is not an option of gatescope --help")
			if inline is None and i < len(argv) and not argv[i].startswith("-"):
				i += 1		# its value, probably
			continue
		if build.options[flag] and inline is None:
			if i >= len(argv):
				errs.append(f"{where}: {flag} needs a value")
			i += 1
	return errs


def parse_with_help(build, argv):
	"""Run the real option parser on argv: `gatescope ARGS --help`.  getopt
	handles options in order, so every value before --help goes through its
	parser (bad values exit 2) before --help prints and exits 0."""
	r = run([build.binary] + argv + ["--help"])
	if r.returncode != 0:
		return [f"gatescope rejects {' '.join(argv)}: {r.stderr.strip().splitlines()[0] if r.stderr.strip() else 'exit %d' % r.returncode}"]
	return []


def metrics_port(argv):
	"""(host, port) of --metrics in argv, or None."""
	for i, a in enumerate(argv):
		val = None
		if a == "--metrics" and i + 1 < len(argv):
			val = argv[i + 1]
		elif a.startswith("--metrics="):
			val = a.split("=", 1)[1]
		if val is not None:
			m = re.fullmatch(r"(\[[^\]]*\]|[^:]*):(\d+)", val)
			return (m.group(1), int(m.group(2))) if m else (val, None)
	return None


# --------------------------------------------------------------- Dockerfile

def parse_dockerfile(path):
	"""Stages: [{"from", "name", "instr": [(INSTR, text, workdir)]}]."""
	with open(path) as f:
		raw = f.read().splitlines()
	lines, cur = [], ""
	for line in raw:
		if line.lstrip().startswith("#"):
			continue	# comments, also between continuation lines
		if line.rstrip().endswith("\\"):
			cur += line.rstrip()[:-1] + " "
			continue
		cur += line
		if cur.strip():
			lines.append(cur.strip())
		cur = ""
	if cur.strip():
		lines.append(cur.strip())
	stages = []
	for line in lines:
		instr, _, rest = line.partition(" ")
		instr = instr.upper()
		rest = rest.strip()
		if instr == "FROM":
			w = rest.split()
			w = [x for x in w if not x.startswith("--platform")]
			name = w[2] if len(w) >= 3 and w[1].upper() == "AS" else None
			stages.append({"from": w[0], "name": name, "instr": [], "workdir": "/"})
			continue
		if not stages:
			continue	# ARG before FROM
		st = stages[-1]
		if instr == "WORKDIR":
			st["workdir"] = os.path.normpath(os.path.join(st["workdir"], rest))
		st["instr"].append((instr, rest, st["workdir"]))
	return stages


def image_is(ref, repo, tags):
	name, _, tag = ref.partition("@")[0].partition(":")
	return name in (repo, "docker.io/library/" + repo, "library/" + repo) and tag in tags


def shell_commands(text):
	return [c.strip() for c in re.split(r"&&|;|\|\|", text) if c.strip()]


def apt_installs(stage):
	pkgs = []
	for instr, text, _ in stage["instr"]:
		if instr != "RUN":
			continue
		for cmd in shell_commands(text):
			w = shlex.split(cmd)
			w = [x for x in w if "=" not in x or x.startswith("-")]	# VAR=val prefixes
			if len(w) >= 2 and w[0] in ("apt-get", "apt") and "install" in w:
				pkgs += [x for x in w[w.index("install") + 1:] if not x.startswith("-")]
	return pkgs


def exec_form(text, what):
	try:
		v = json.loads(text)
	except ValueError:
		return None, [f"{what} is not in exec form (JSON array): signals must reach gatescope, not a shell"]
	if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
		return None, [f"{what} is not a JSON array of strings"]
	return v, []


def debian12():
	try:
		with open("/etc/os-release") as f:
			return 'VERSION_ID="12"' in f.read()
	except OSError:
		return False


def apt_known(pkgs):
	"""Packages of the list that apt here does not know (one apt-cache call:
	unknown names get no section, unavailable ones "Candidate: (none)")."""
	if not pkgs:
		return []
	out = run(["apt-cache", "policy"] + list(pkgs)).stdout
	known = {m.group(1) for m in re.finditer(r"^(\S+):\n(?:  .*\n)*?  Candidate: (?!\(none\))", out, re.M)}
	return [p for p in pkgs if p not in known]


def install_deps_pkgs(root):
	with open(os.path.join(root, "tools", "install-deps.sh")) as f:
		m = re.search(r'^PKGS="([^"]*)"', f.read(), re.M)
	return set(m.group(1).split()) if m else set()


def check_dockerfile(build, path):
	errs_build, errs_rt, errs_bin, errs_libs = [], [], [], []
	try:
		stages = parse_dockerfile(path)
	except OSError as e:
		report("dockerfile_build_stage", [str(e)])
		return None
	if len(stages) < 2:
		report("dockerfile_build_stage", [f"{len(stages)} stage(s); want a build and a runtime stage"])
		return None
	bst, rst = stages[0], stages[-1]

	# Build stage: Debian 12, the build packages, the sources make reads, make.
	if not image_is(bst["from"], "debian", ("12", "bookworm")):
		errs_build.append(f"build stage is FROM {bst['from']}, want debian:12")
	if not bst["name"]:
		errs_build.append("build stage has no name (FROM ... AS build)")
	binstalls = apt_installs(bst)
	listed = install_deps_pkgs(build.root)
	for p in BUILD_PKGS:
		if p not in binstalls:
			errs_build.append(f"build stage does not install {p}")
		if p not in listed:
			errs_build.append(f"{p} is not in tools/install-deps.sh PKGS")
	copied, make_dir = set(), None
	for instr, text, wd in bst["instr"]:
		if instr in ("COPY", "ADD") and "--from" not in text:
			w = [x for x in shlex.split(text) if not x.startswith("--")]
			for src in w[:-1]:
				copied.add(os.path.normpath(src).split("/")[0])
		if instr == "RUN":
			for cmd in shell_commands(text):
				w = [x for x in shlex.split(cmd) if not x.startswith("-") and "=" not in x]
				if w and w[0] == "make" and (len(w) == 1 or "all" in w[1:] or build.built_rel in w[1:]):
					make_dir = wd
	if "." not in copied:
		for need in sorted(build.sources - copied):
			errs_build.append(f"build stage does not COPY {need}, which make reads")
	if make_dir is None:
		errs_build.append("build stage never runs make")
	if debian12():
		unknown = apt_known(binstalls)
		if unknown:
			errs_build.append("apt does not know " + ", ".join(unknown))
	report("dockerfile_build_stage", errs_build)

	# Runtime stage: slim, libraries only.
	if not image_is(rst["from"], "debian", ("12-slim", "bookworm-slim")):
		errs_rt.append(f"runtime stage is FROM {rst['from']}, want debian:12-slim")
	rinstalls = apt_installs(rst)
	for p in rinstalls:
		if p.endswith("-dev") or p in TOOLCHAIN:
			errs_rt.append(f"runtime stage installs build package {p}")
	for instr, text, _ in rst["instr"]:
		if instr == "RUN" and "apt-get install" in text:
			if "--no-install-recommends" not in text:
				errs_rt.append("runtime apt-get install without --no-install-recommends")
			if "rm -rf /var/lib/apt/lists" not in text:
				errs_rt.append("runtime stage keeps the apt lists")
	if debian12():
		unknown = apt_known(rinstalls)
		if unknown:
			errs_rt.append("apt does not know " + ", ".join(unknown))
	report("dockerfile_runtime_stage", errs_rt)

	# The runtime stage's libraries cover what the real binary links.
	report("dockerfile_runtime_libs", *runtime_libs(build, rinstalls))

	# The runtime copies the binary make builds to where make installs it,
	# and runs it with flags that exist.
	entry, cmd = None, []
	copies = []
	for instr, text, _ in rst["instr"]:
		if instr == "COPY" and "--from" in text:
			w = shlex.split(text)
			frm = [x.split("=", 1)[1] for x in w if x.startswith("--from=")]
			rest = [x for x in w if not x.startswith("--")]
			copies.append((frm[0] if frm else None, rest[:-1], rest[-1]))
		elif instr == "ENTRYPOINT":
			entry, e = exec_form(text, "ENTRYPOINT")
			errs_bin += e
		elif instr == "CMD":
			cmd, e = exec_form(text, "CMD")
			errs_bin += e
			cmd = cmd or []
	want_src = os.path.normpath(os.path.join(make_dir or bst["workdir"], build.built_rel))
	ok = [c for c in copies if c[0] in (bst["name"], "0") and want_src in
	      [os.path.normpath(os.path.join("/", s)) for s in c[1]]]
	if not ok:
		errs_bin.append(f"runtime stage does not COPY --from={bst['name']} {want_src} (what make builds)")
	elif ok[0][2] not in (build.install_path, os.path.dirname(build.install_path) + "/"):
		errs_bin.append(f"binary copied to {ok[0][2]}, make installs it to {build.install_path}")
	if not entry:
		if not any(i == "ENTRYPOINT" for i, _, _ in rst["instr"]):
			errs_bin.append("no ENTRYPOINT")
	else:
		if entry[0] != build.install_path:
			errs_bin.append(f"ENTRYPOINT runs {entry[0]}, not {build.install_path}")
		argv = entry[1:] + cmd
		if build.help:
			errs_bin += check_args(build, argv, "ENTRYPOINT+CMD")
			errs_bin += parse_with_help(build, argv)
		mp = metrics_port(argv)
		exposed = set()
		for instr, text, _ in rst["instr"]:
			if instr == "EXPOSE":
				exposed |= {int(p.split("/")[0]) for p in text.split()}
		if mp and exposed and mp[1] not in exposed:
			errs_bin.append(f"--metrics port {mp[1]} is not EXPOSEd ({sorted(exposed)})")
	report("dockerfile_binary", errs_bin)
	return entry


def dpkg_owners(paths):
	"""{path: package} for those of the paths an installed package owns,
	from dpkg's file lists in one pass (what `dpkg -S PATH` answers, at a
	fraction of its cost per path)."""
	owner = {}
	for lst in glob.glob("/var/lib/dpkg/info/*.list"):
		pkg = os.path.basename(lst)[:-len(".list")].split(":")[0]
		with open(lst, errors="replace") as f:
			for line in f:
				p = line.rstrip("\n")
				if p in paths:
					owner.setdefault(p, pkg)
	return owner


def runtime_libs(build, installed):
	"""([errors], skip): every library ldd resolves comes from a package the
	runtime installs or one they depend on (libc6 is in every image)."""
	if not os.access(build.binary, os.X_OK):
		return ["binary not built"], None
	if not shutil.which("dpkg") or not debian12():
		return [], "needs dpkg and apt of Debian 12 to map libraries to packages"
	out = run(["ldd", build.binary]).stdout
	closure = {"libc6"}
	if installed:
		dep = run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
			   "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances"] + installed).stdout
		closure |= {l.strip() for l in dep.splitlines() if l and not l[0].isspace()}
	errs = []
	libs = [m.groups() for m in re.finditer(r"^\s*(\S+) => (/\S+)", out, re.M)]
	cands = {lib: (os.path.realpath(path), path, re.sub(r"^/usr", "", os.path.realpath(path)))
		 for lib, path in libs}
	owner = dpkg_owners({c for cs in cands.values() for c in cs})
	for lib, path in libs:
		pkg = next((owner[c] for c in cands[lib] if c in owner), None)
		if pkg is None:
			errs.append(f"{lib} ({path}) belongs to no Debian package")
		elif pkg not in closure:
			errs.append(f"{lib} comes from {pkg}, which the runtime stage does not install")
	return errs, None


# ---------------------------------------------------------------- DaemonSet

def quantity(v):
	m = re.fullmatch(r"([0-9.]+)(m|k|M|G|T|Ki|Mi|Gi|Ti)?", str(v))
	if not m:
		return None
	mult = {None: 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
		"Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3, "Ti": 1024 ** 4}
	return float(m.group(1)) * mult[m.group(2)]


def expand_env(argv, env):
	"""Kubernetes' $(VAR) expansion in command and args."""
	errs = []

	def sub(m):
		if m.group(1) not in env:
			errs.append(f"$({m.group(1)}) is not defined in the container's env")
			return m.group(0)
		return env[m.group(1)]
	return [re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", sub, a) for a in argv], errs


def container_env(c):
	"""env as values a test can use: fieldRef status.hostIP / podIP -> an
	address from TEST-NET-1 (the real one is the node's)."""
	env = {}
	for e in c.get("env") or []:
		if "value" in e:
			env[e["name"]] = str(e["value"])
		elif (e.get("valueFrom") or {}).get("fieldRef", {}).get("fieldPath") in ("status.hostIP", "status.podIP"):
			env[e["name"]] = "192.0.2.1"
		else:
			env[e["name"]] = "x"
	return env


def check_daemonset(build, path, entry):
	"""Returns (container argv with env expanded, probe path, scrape path) for the live check."""
	if yaml is None:
		report("daemonset_parse", ["python3-yaml is not installed (apt-get install python3-yaml)"])
		return None
	try:
		with open(path) as f:
			docs = [d for d in yaml.safe_load_all(f) if d is not None]
	except (OSError, yaml.YAMLError) as e:
		report("daemonset_parse", [f"{path}: {e}"])
		return None
	errs = []
	for d in docs:
		if not isinstance(d, dict) or not all(k in d for k in ("apiVersion", "kind", "metadata")):
			errs.append("a document without apiVersion/kind/metadata")
		elif not (d["metadata"] or {}).get("name"):
			errs.append(f"{d['kind']} without metadata.name")
	ds = [d for d in docs if isinstance(d, dict) and d.get("kind") == "DaemonSet"]
	if len(ds) != 1:
		report("daemonset_parse", errs + [f"{len(ds)} DaemonSets in {path}, want 1"])
		return None
	ds = ds[0]
	spec = ds.get("spec") or {}
	tmpl = spec.get("template") or {}
	pod = tmpl.get("spec") or {}
	meta = tmpl.get("metadata") or {}
	sel = (spec.get("selector") or {}).get("matchLabels") or {}
	labels = meta.get("labels") or {}
	if not sel or any(labels.get(k) != v for k, v in sel.items()):
		errs.append("spec.selector.matchLabels does not match the pod template's labels")
	ns = (ds.get("metadata") or {}).get("namespace")
	if ns and not any(d.get("kind") == "Namespace" and d["metadata"].get("name") == ns for d in docs):
		errs.append(f"namespace {ns} is not created in {os.path.basename(path)}")
	for where, m in (("labels", labels), ("annotations", meta.get("annotations") or {})):
		for k, v in m.items():
			if not isinstance(v, str):
				errs.append(f"pod {where} {k} is {type(v).__name__}, must be a string (quote it)")
	cs = pod.get("containers") or []
	gs = [c for c in cs if "gatescope" in str(c.get("image", "")) or "gatescope" in str(c.get("name", ""))]
	if len(gs) != 1:
		report("daemonset_parse", errs + [f"{len(gs)} gatescope containers, want 1"])
		return None
	c = gs[0]
	report("daemonset_parse", errs)

	# The container runs the binary make builds, with flags --help lists.
	errs = []
	command = c.get("command") or entry or []
	argv = [str(a) for a in (c.get("args") or [])]
	if "args" not in c and not c.get("command") and entry:
		argv = []	# the image's CMD applies, checked with the Dockerfile
	env = container_env(c)
	argv, e = expand_env(argv, env)
	errs += e
	if not command:
		errs.append("no command and no image ENTRYPOINT")
	elif command[0] != build.install_path:
		errs.append(f"command runs {command[0]}, not {build.install_path} (make install)")
	else:
		argv = [str(a) for a in command[1:]] + argv
	image = str(c.get("image", ""))
	tag = image.rpartition(":")[2] if ":" in image.rpartition("/")[2] else None
	if build.version and tag != build.version:
		errs.append(f"image tag {tag} is not the version gatescope reports ({build.version})")
	if build.help:
		errs += check_args(build, argv, "args")
		errs += parse_with_help(build, argv)
	mp = metrics_port(argv)
	if not mp or mp[1] is None:
		errs.append("args have no --metrics ADDR:PORT")
	report("daemonset_command", errs)
	port = mp[1] if mp else None

	# Host namespaces, capabilities and mounts.
	errs = []
	if pod.get("hostPID") is not True:
		errs.append("hostPID is not true")
	if pod.get("hostNetwork") is not True:
		errs.append("hostNetwork is not true")
	sc = c.get("securityContext") or {}
	if sc.get("privileged") is not True:
		caps = sc.get("capabilities") or {}
		add = {re.sub(r"^CAP_", "", str(x).upper()) for x in caps.get("add") or []}
		drop = {str(x).upper() for x in caps.get("drop") or []}
		if add != CAPS:
			errs.append(f"capabilities add {sorted(add)}, want exactly {sorted(CAPS)}")
		if "ALL" not in drop:
			errs.append("capabilities do not drop ALL (the runtime's defaults would be added)")
		psc = pod.get("securityContext") or {}
		uid = sc.get("runAsUser", psc.get("runAsUser"))
		if sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True or (uid not in (None, 0)):
			errs.append("runs as non-root: Kubernetes gives a non-root user no effective capabilities")
	report("daemonset_privileges", errs)

	errs = []
	vols = {v.get("name"): v for v in pod.get("volumes") or []}
	mounts = {m.get("mountPath"): m for m in c.get("volumeMounts") or []}
	for p in HOST_MOUNTS:
		m = mounts.get(p)
		if not m:
			errs.append(f"no volumeMount at {p}")
			continue
		hp = (vols.get(m.get("name")) or {}).get("hostPath") or {}
		if hp.get("path") != p:
			errs.append(f"{p} is mounted from {hp.get('path') or 'no hostPath'}, want hostPath {p}")
		# gatescope writes none of them (no pins, no tracefs instances); if
		# that changes, relax this together with daemonset.yaml.
		if m.get("readOnly") is not True:
			errs.append(f"{p} is not mounted readOnly")
	report("daemonset_mounts", errs)

	errs = []
	res = c.get("resources") or {}
	for kind in ("cpu", "memory"):
		req = quantity((res.get("requests") or {}).get(kind))
		lim = quantity((res.get("limits") or {}).get(kind))
		if req is None or lim is None:
			errs.append(f"{kind}: requests and limits both needed")
		elif req > lim:
			errs.append(f"{kind}: request above limit")
	report("daemonset_resources", errs)

	# Probe and scrape annotations point at the --metrics port.
	errs = []
	named = {p.get("name"): p.get("containerPort") for p in c.get("ports") or []}
	probe = ((c.get("livenessProbe") or {}).get("httpGet")) or {}
	pport = probe.get("port")
	pport = named.get(pport, pport) if isinstance(pport, str) else pport
	if probe.get("path") != "/healthz":
		errs.append(f"livenessProbe httpGet path is {probe.get('path')}, want /healthz")
	if port is not None and pport != port:
		errs.append(f"livenessProbe port {probe.get('port')} ({pport}) is not the --metrics port {port}")
	if port is not None and port not in named.values():
		errs.append(f"--metrics port {port} is not a containerPort")
	ann = meta.get("annotations") or {}
	if ann.get("prometheus.io/scrape") != "true":
		errs.append('annotation prometheus.io/scrape is not "true"')
	if port is not None and ann.get("prometheus.io/port") != str(port):
		errs.append(f"annotation prometheus.io/port is {ann.get('prometheus.io/port')!r}, want {str(port)!r} (the --metrics port)")
	if ann.get("prometheus.io/path") != "/metrics":
		errs.append(f"annotation prometheus.io/path {ann.get('prometheus.io/path')!r}, gatescope serves /metrics")
	report("daemonset_probe_and_scrape", errs)

	# Scheduled on gateway nodes, whose taints it tolerates.
	errs = []
	keys = set((pod.get("nodeSelector") or {}).keys())
	aff = (((pod.get("affinity") or {}).get("nodeAffinity") or {})
	       .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
	for term in aff.get("nodeSelectorTerms") or []:
		keys |= {e.get("key") for e in term.get("matchExpressions") or []}
	tols = pod.get("tolerations") or []
	if not keys:
		errs.append("no nodeSelector or required nodeAffinity: it would run on every node")
	if not tols:
		errs.append("no tolerations")
	for k in keys:
		if not any(t.get("key") == k or (not t.get("key") and t.get("operator") == "Exists") for t in tols):
			errs.append(f"nodes selected by {k} may be tainted with it, and no toleration matches")
	report("daemonset_scheduling", errs)
	return argv, probe.get("path"), ann.get("prometheus.io/path"), ann


# ------------------------------------------------------------------- PromQL

TOKEN = re.compile(r"""
	(?P<ws>\s+)
	| (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
	| (?P<dur>(?:\d+(?:ms|s|m|h|d|w|y))+)
	| (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
	| (?P<id>[A-Za-z_:][A-Za-z0-9_:]*)
	| (?P<op>=~|!~|!=|==|>=|<=|[-+*/%^=<>,(){}\[\]@:])
""", re.X)


def lex(expr):
	toks, pos = [], 0
	while pos < len(expr):
		m = TOKEN.match(expr, pos)
		if not m:
			raise ValueError(f"cannot read {expr[pos:pos + 20]!r}")
		pos = m.end()
		if m.lastgroup != "ws":
			toks.append((m.lastgroup, m.group()))
	return toks


def promql_uses(expr):
	"""[(metric, matcher labels, innermost function)], grouping labels.
	Raises ValueError on what is not PromQL."""
	toks = lex(expr)
	uses, grouping, stack = [], set(), []

	def label_list(j, after):	# toks[j] is "(": collect labels, return index past ")"
		j += 1
		while j < len(toks) and toks[j][1] != ")":
			if toks[j][0] == "id":
				grouping.add(toks[j][1])
			elif toks[j][1] != ",":
				raise ValueError(f"bad label list after {after}")
			j += 1
		if j == len(toks):
			raise ValueError(f"unclosed label list after {after}")
		return j + 1

	i = 0
	while i < len(toks):
		kind, v = toks[i]
		nxt = toks[i + 1][1] if i + 1 < len(toks) else None
		if kind == "id" and v in PROMQL_AGGREGATORS and nxt in ("by", "without"):
			# sum by (l) (expr): the clause comes before the argument
			if i + 2 >= len(toks) or toks[i + 2][1] != "(":
				raise ValueError(f"{v} {nxt} needs a label list")
			i = label_list(i + 2, nxt)
			if i >= len(toks) or toks[i][1] != "(":
				raise ValueError(f"{v} {nxt} (...) needs an argument")
			stack.append(v)
			i += 1
			continue
		if kind == "id" and nxt == "(":
			if v in PROMQL_GROUPING:
				i = label_list(i + 1, v)
				continue
			if v not in PROMQL_FUNCTIONS and v not in PROMQL_AGGREGATORS:
				raise ValueError(f"unknown function {v}()")
			stack.append(v)
			i += 2
			continue
		if kind == "id" and v in PROMQL_GROUPING | PROMQL_KEYWORDS:
			i += 1
			continue
		if kind == "id":
			labels = set()
			i += 1
			if i < len(toks) and toks[i][1] == "{":
				i += 1
				while i < len(toks) and toks[i][1] != "}":
					if toks[i][1] == ",":
						i += 1
						continue
					if (i + 2 >= len(toks) or toks[i][0] != "id" or
					    toks[i + 1][1] not in ("=", "!=", "=~", "!~") or toks[i + 2][0] != "str"):
						raise ValueError(f"bad label matcher in {v}{{...}}")
					labels.add(toks[i][1])
					i += 3
				if i >= len(toks):
					raise ValueError("unclosed {")
				i += 1
			func = next((f for f in reversed(stack) if f), None)
			uses.append((v, labels, func))
			continue
		if v == "{":
			raise ValueError("selector without a metric name")
		if v == "[":
			j = i
			while j < len(toks) and toks[j][1] != "]":
				j += 1
			if j == len(toks):
				raise ValueError("unclosed [")
			i = j + 1
			continue
		if v == "(":
			stack.append("")
		elif v == ")":
			if not stack:
				raise ValueError("unbalanced )")
			stack.pop()
		i += 1
	if stack:
		raise ValueError("unbalanced (")
	return uses, grouping


def resolve_metric(name, exported):
	"""(base name, type, labels) of a queried series name, or None."""
	if name in exported:
		return (name,) + tuple(exported[name])
	for suf in ("_bucket", "_sum", "_count"):
		base = name[:-len(suf)]
		if name.endswith(suf) and base in exported and exported[base][0] in ("histogram", "summary"):
			labels = exported[base][1]
			if labels is not None and suf == "_bucket":
				labels = set(labels) | {"le"}
			typ = "counter"		# _bucket, _sum and _count all only grow
			return (base, typ, labels)
	return None


GRAFANA_VAR = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")


def grafana_vars(text):
	return {a or b or c for a, b, c in GRAFANA_VAR.findall(text)}


def grafana_expand(text):
	"""Variables as a query would see them: intervals as durations, the rest
	(label values inside strings) as a plain word."""
	def sub(m):
		n = m.group(1) or m.group(2) or m.group(3)
		return "5m" if n.startswith("__r") or n.startswith("__i") or n == "__auto" else "x"
	return GRAFANA_VAR.sub(sub, text)


def check_expr(expr, exported, where):
	errs, used = [], set()
	try:
		uses, grouping = promql_uses(grafana_expand(expr))
	except ValueError as e:
		return [f"{where}: not PromQL ({e}): {expr}"], used
	if not uses:
		errs.append(f"{where}: queries no metric: {expr}")
	known = set(TARGET_LABELS)
	for name, labels, func in uses:
		used.add(re.sub(r"_(bucket|sum|count)$", "", name) if name not in exported else name)
		r = resolve_metric(name, exported)
		if r is None:
			errs.append(f"{where}: {name} is not a metric gatescope exports")
			known = None	# labels of an unknown metric are unknown
			continue
		base, typ, mlabels = r
		if mlabels is None:	# a live metric with no series: labels unknown
			known = None
			mlabels = labels
		if known is not None:
			known |= set(mlabels)
		bad = labels - set(mlabels) - TARGET_LABELS
		if bad:
			errs.append(f"{where}: {name} has no label {', '.join(sorted(bad))}")
		if typ == "counter" and func not in COUNTER_FUNCS:
			errs.append(f"{where}: counter {name} used without rate()/increase()")
		if typ == "gauge" and func in COUNTER_FUNCS:
			errs.append(f"{where}: {func}() of gauge {name}")
	bad = grouping - known if known is not None else set()
	if bad:
		errs.append(f"{where}: grouping by {', '.join(sorted(bad))}, a label none of its metrics has")
	return errs, used


# ---------------------------------------------------------------- dashboard

def check_dashboard(path, exported, source):
	try:
		with open(path) as f:
			dash = json.load(f)
	except (OSError, ValueError) as e:
		report("dashboard_model", [f"{path}: {e}"])
		return
	errs = []
	if not isinstance(dash.get("schemaVersion"), int):
		errs.append("no integer schemaVersion")
	for k in ("title", "uid"):
		if not isinstance(dash.get(k), str) or not dash.get(k):
			errs.append(f"no {k}")
	tvars = (dash.get("templating") or {}).get("list") or []
	names = {v.get("name") for v in tvars}
	dsvars = [v for v in tvars if v.get("type") == "datasource" and v.get("query") == "prometheus"]
	if not dsvars:
		errs.append("no Prometheus datasource variable in templating")
	dsnames = {v["name"] for v in dsvars}
	panels = list(dash.get("panels") or [])
	for p in list(panels):
		panels += p.get("panels") or []		# collapsed rows hold theirs
	ids, cells = set(), {}
	exprs = []
	for p in panels:
		title = p.get("title") or f"panel {p.get('id')}"
		if not isinstance(p.get("id"), int) or p["id"] in ids:
			errs.append(f"{title}: missing or duplicate id")
		ids.add(p.get("id"))
		gp = p.get("gridPos") or {}
		if not all(isinstance(gp.get(k), int) and gp[k] >= 0 for k in "hwxy") or gp.get("w", 0) < 1:
			errs.append(f"{title}: gridPos needs integer h, w, x, y")
			continue
		if gp["x"] + gp["w"] > 24:
			errs.append(f"{title}: wider than the 24-column grid")
		for x in range(gp["x"], gp["x"] + gp["w"]):
			for y in range(gp["y"], gp["y"] + gp["h"]):
				if (x, y) in cells and p.get("type") != "row":
					errs.append(f"{title}: overlaps {cells[(x, y)]}")
					break
				cells[(x, y)] = title
			else:
				continue
			break
		if p.get("type") == "row":
			continue
		if not p.get("type") or not p.get("title"):
			errs.append(f"{title}: needs a type and a title")
		targets = p.get("targets") or []
		if not targets:
			errs.append(f"{title}: no targets")
		refs = [t.get("refId") for t in targets]
		if len(set(refs)) != len(refs) or None in refs:
			errs.append(f"{title}: refIds missing or repeated")
		for t in targets:
			ds = t.get("datasource") or p.get("datasource") or {}
			uid = ds.get("uid", "") if isinstance(ds, dict) else str(ds)
			if not (grafana_vars(uid) & dsnames):
				errs.append(f"{title}: datasource {uid!r} is not the datasource variable")
			if not t.get("expr"):
				errs.append(f"{title}: target {t.get('refId')} has no expr")
				continue
			exprs.append((f"{title}/{t.get('refId')}", t["expr"]))
	for v in tvars:
		if v.get("type") == "query":
			q = v.get("query")
			q = q.get("query") if isinstance(q, dict) else q
			exprs.append((f"variable {v.get('name')}", q or ""))
	for where, e in exprs:
		undefined = grafana_vars(e) - names - GRAFANA_BUILTINS
		if undefined:
			errs.append(f"{where}: undefined variable(s) {', '.join(sorted(undefined))}")
	report("dashboard_model", errs)

	errs, used = [], set()
	for where, e in exprs:
		if where.startswith("variable "):
			m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\s*\)\s*", e)
			if not m:
				errs.append(f"{where}: not label_values(METRIC, LABEL): {e}")
				continue
			uses, _ = (promql_uses(grafana_expand(m.group(1))) if m.group(1) else ([], None))
			for name, labels, _f in uses:
				r = resolve_metric(name, exported)
				if r is None:
					errs.append(f"{where}: {name} is not a metric gatescope exports")
				elif r[2] is not None and m.group(2) not in set(r[2]) | TARGET_LABELS:
					errs.append(f"{where}: {name} has no label {m.group(2)}")
			continue
		e_errs, e_used = check_expr(e, exported, where)
		errs += e_errs
		used |= e_used
	print(f"# metric names from the {source}")
	report("dashboard_queries_exported_metrics", errs)
	# The dashboard shows every contract metric somewhere.
	missing = sorted(set(CONTRACT_METRICS) - used)
	report("dashboard_covers_contract_metrics", [f"no panel queries {', '.join(missing)}"] if missing else [])


# ----------------------------------------------------- Prometheus scrape job

class MetricsStub:
	"""A loopback HTTP server answering 200 on one path: the target a real
	Prometheus scrapes to show where its relabelling sends it."""

	def __init__(self, path):
		import http.server
		import threading

		class Handler(http.server.BaseHTTPRequestHandler):
			def do_GET(self):
				ok = self.path == path
				body = b"# TYPE gs_stub gauge\ngs_stub 1\n" if ok else b"not here\n"
				self.send_response(200 if ok else 404)
				self.send_header("Content-Type", "text/plain; version=0.0.4")
				self.end_headers()
				self.wfile.write(body)

			def log_message(self, *a):
				pass
		self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
		self.port = self.server.server_address[1]
		threading.Thread(target=self.server.serve_forever, daemon=True).start()

	def close(self):
		self.server.shutdown()
		self.server.server_close()


def meta_label(annotation):
	return "__meta_kubernetes_pod_annotation_" + re.sub(r"[^A-Za-z0-9_]", "_", annotation)


def check_scrape_config(path, ds, no_live):
	"""deploy/prometheus-scrape.yml: its kubernetes_sd_configs job keeps,
	re-paths and re-ports the DaemonSet's pods by their annotations.  Debian's
	Prometheus has no Kubernetes discovery, so the job is checked with the
	discovery swapped for static targets that carry the labels Kubernetes
	discovery would give the pod: promtool checks the config, and a real
	Prometheus, if installed, shows where its relabelling sends the scrape."""
	if yaml is None or not ds:
		return report("scrape_config", ["needs python3-yaml and a parsed DaemonSet"])
	ann = ds[3]
	try:
		with open(path) as f:
			cfg = yaml.safe_load(f)
	except (OSError, yaml.YAMLError) as e:
		return report("scrape_config", [str(e)])
	errs = []
	jobs = [j for j in cfg.get("scrape_configs") or [] if j.get("kubernetes_sd_configs")]
	if len(jobs) != 1:
		return report("scrape_config", [f"{len(jobs)} jobs with kubernetes_sd_configs, want 1"])
	job = jobs[0]
	sources = {l for r in job.get("relabel_configs") or [] for l in r.get("source_labels") or []}
	for key in ("prometheus.io/scrape", "prometheus.io/port", "prometheus.io/path"):
		if key not in ann:
			errs.append(f"the DaemonSet has no {key} annotation")
		elif meta_label(key) not in sources:
			errs.append(f"no relabel rule reads {meta_label(key)} ({key})")
	stub = MetricsStub(ann.get("prometheus.io/path", "/metrics"))
	pod = {meta_label(k): str(v) for k, v in ann.items()}
	pod[meta_label("prometheus.io/port")] = str(stub.port)
	pod["__meta_kubernetes_pod_node_name"] = "gs-node-a"
	other = dict(pod, **{meta_label("prometheus.io/scrape"): "false"})
	del job["kubernetes_sd_configs"]
	# The pod as discovery gives it (address without the annotation's port),
	# and a pod that does not ask to be scraped.
	job["static_configs"] = [{"targets": ["127.0.0.1"], "labels": pod},
				 {"targets": ["127.0.0.2"], "labels": other}]
	job["scrape_interval"] = "1s"
	cfg.setdefault("global", {})["scrape_interval"] = "1s"
	with tempfile.TemporaryDirectory() as d:
		conf = os.path.join(d, "prometheus.yml")
		with open(conf, "w") as f:
			yaml.safe_dump(cfg, f)
		if not shutil.which("promtool"):
			stub.close()
			return report("scrape_config", errs, "promtool is not installed (Debian: prometheus)")
		r = run(["promtool", "check", "config", conf])
		if r.returncode != 0:
			errs.append("promtool check config: " + (r.stdout + r.stderr).strip().replace("\n", " | ")[:300])
		elif shutil.which("prometheus") and not no_live:
			errs += scrape_with_prometheus(conf, d, stub, ann.get("prometheus.io/path"))
	stub.close()
	report("scrape_config", errs)


def scrape_with_prometheus(conf, tmp, stub, path):
	"""Run Prometheus on a free port (three tries: another run may take
	the port between the probe and the bind)."""
	for attempt in range(3):
		errs, busy = scrape_once(conf, os.path.join(tmp, str(attempt)), stub, path)
		if not busy:
			break
	return errs


def scrape_once(conf, tmp, stub, path):
	"""(errors, whether the port was taken)."""
	os.makedirs(tmp)
	port = free_port()
	api = f"http://127.0.0.1:{port}/api/v1/targets"
	want = f"http://127.0.0.1:{stub.port}{path}"
	errs = []
	with open(os.path.join(tmp, "prometheus.log"), "w") as log:
		p = subprocess.Popen(["prometheus", f"--config.file={conf}",
				      f"--storage.tsdb.path={tmp}/data",
				      f"--web.listen-address=127.0.0.1:{port}"],
				     stdout=log, stderr=subprocess.STDOUT)
		try:
			active, dropped = [], []
			for _ in range(150):		# 15 s
				time.sleep(0.1)
				if p.poll() is not None:
					break
				try:
					data = json.loads(http_get(api, 1)[1])["data"]
				except (OSError, ValueError, KeyError):
					continue
				active, dropped = data.get("activeTargets") or [], data.get("droppedTargets") or []
				if any(t.get("health") in ("up", "down") for t in active):
					break		# scraped once, well or not
			up = [t for t in active if t.get("health") == "up"]
			if p.poll() is not None:
				log.flush()
				with open(log.name) as f:
					tail = " | ".join(f.read().strip().splitlines()[-2:])
				if "address already in use" in tail:
					return [f"prometheus could not bind a port: {tail[:200]}"], True
				errs.append(f"prometheus exited {p.returncode}: {tail[:300]}")
			elif len(active) != 1 or not up:
				errs.append(f"prometheus has {len(active)} active targets, {len(up)} up "
					    f"({[(t.get('scrapeUrl'), t.get('lastError')) for t in active]})")
			else:
				t = up[0]
				if t.get("scrapeUrl") != want:
					errs.append(f"prometheus scraped {t.get('scrapeUrl')}, want {want}")
				if (t.get("labels") or {}).get("node") != "gs-node-a":
					errs.append("the node label is not set from the pod's node")
				if len(dropped) != 1:
					errs.append(f"{len(dropped)} dropped targets: a pod without scrape=true must be dropped")
		finally:
			stop_process(p, 10)
	return errs, False


def stop_process(p, timeout):
	"""SIGTERM, and SIGKILL if it is still there after timeout seconds."""
	p.terminate()
	try:
		p.wait(timeout)
	except subprocess.TimeoutExpired:
		p.kill()
		p.wait()


# ------------------------------------------------------------- live scrape

def http_get(url, timeout=2):
	with urllib.request.urlopen(url, timeout=timeout) as r:
		return r.status, r.read().decode("utf-8", "replace")


def parse_exposition(text):
	"""{name: (type, labels seen)} from the Prometheus text format."""
	types, labels = {}, {}
	for line in text.splitlines():
		m = re.match(r"# TYPE (\S+) (\S+)", line)
		if m:
			types[m.group(1)] = m.group(2)
			labels.setdefault(m.group(1), set())
			continue
		m = re.match(r"([A-Za-z_:][A-Za-z0-9_:]*)(\{.*\})?\s", line)
		if m and not line.startswith("#"):
			name = m.group(1)
			base = next((name[:-len(s)] for s in ("_bucket", "_sum", "_count")
				     if name.endswith(s) and types.get(name[:-len(s)]) in ("histogram", "summary")), name)
			ls = set(re.findall(r'([A-Za-z_][A-Za-z0-9_]*)="', m.group(2) or "")) - {"le"}
			labels.setdefault(base, set()).update(ls)
	out = {}
	for name, typ in types.items():
		# A labelled metric with no series yet shows no labels: take the
		# contract's for it; for others they are unknown (None).
		seen = labels.get(name) or None
		if seen is None and name in CONTRACT_METRICS:
			seen = CONTRACT_METRICS[name][1]
		out[name] = (typ, seen)
	return out


def free_port():
	s = socket.socket()
	s.bind(("127.0.0.1", 0))
	p = s.getsockname()[1]
	s.close()
	return p


def live_metrics(build, ds, no_live):
	"""Scrape gatescope run with the DaemonSet's own args (address moved to
	loopback); returns ({name: (type, labels)}, errors, skip reason)."""
	line = build.metrics_in_help()
	if no_live:
		return None, [], "not asked to run gatescope (--no-live / --no-gatescope)"
	if not build.help:
		return None, [], "gatescope is not built"
	if line is None or "not in this build" in line:
		return None, [], "this build of gatescope has no --metrics server yet"
	if os.geteuid() != 0 or not os.access("/sys/kernel/btf/vmlinux", os.R_OK):
		return None, [], "needs root and a BTF kernel to run gatescope"
	if not ds:
		return None, ["DaemonSet args unavailable"], None
	argv, probe_path, scrape_path, _ = ds
	argv = list(argv)
	# Port 0: gatescope binds a free one and says which, so parallel runs
	# never race for a port.
	for i, a in enumerate(argv):
		if a == "--metrics":
			argv[i + 1] = "127.0.0.1:0"
		elif a.startswith("--metrics="):
			argv[i] = "--metrics=127.0.0.1:0"
	# Trace only a process name nobody runs, for a bounded time.
	comm = f"gsdeploy{os.getpid() % 100000}"
	argv += ["--comm", comm, "--duration", "30"]
	errs, exported = [], None
	with tempfile.TemporaryFile("w+") as err:
		p = subprocess.Popen([build.binary] + argv, stdout=subprocess.DEVNULL, stderr=err)
		try:
			base = None
			for _ in range(100):
				if p.poll() is not None:
					break
				err.seek(0)
				m = re.search(r"http://(127\.0\.0\.1:\d+)/", err.read())
				base = f"http://{m.group(1)}" if m else None
				try:
					if base and http_get(base + probe_path, 1)[0] == 200:
						break
				except OSError:
					pass
				time.sleep(0.1)
			else:
				errs.append(f"{probe_path} did not answer 200 within 10 s" if base else
					    "gatescope never said where it serves metrics")
				return None, errs, None
			if p.poll() is not None:
				err.seek(0)
				errs.append(f"gatescope {' '.join(argv)} exited {p.returncode}: {err.read().strip()[:300]}")
				return None, errs, None
			status, text = http_get(base + scrape_path, 5)
			if status != 200:
				errs.append(f"{scrape_path} answered {status}")
			exported = parse_exposition(text)
			if not exported:
				errs.append(f"{scrape_path} has no # TYPE lines")
			lint = promtool_check(text)
		except OSError as e:
			errs.append(f"scrape failed: {e}")
			lint = None
		finally:
			stop_process(p, 5)
	if lint is not None:
		report("promtool_check_metrics", *lint)
	return exported, errs, None


def promtool_check(text):
	if not shutil.which("promtool"):
		return [], "promtool is not installed (Debian: prometheus)"
	r = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
			   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
	return ([r.stdout.strip().replace("\n", " | ")[:500] or f"exit {r.returncode}"]
		if r.returncode != 0 else []), None


# --------------------------------------------------------------------- main

def main():
	ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
	here = os.path.dirname(os.path.abspath(__file__))
	ap.add_argument("--root", default=os.path.normpath(os.path.join(here, "..", "..")))
	ap.add_argument("--deploy", help="directory with the manifests (default ROOT/deploy)")
	ap.add_argument("--no-gatescope", action="store_true", help="do not run gatescope --metrics")
	ap.add_argument("--no-prometheus", action="store_true", help="do not run Prometheus")
	ap.add_argument("--no-live", action="store_true", help="both: parse, ask and promtool only")
	a = ap.parse_args()
	deploy = a.deploy or os.path.join(a.root, "deploy")

	build = Build(a.root)
	report("build_facts", build.errors)
	entry = check_dockerfile(build, os.path.join(deploy, "Dockerfile"))
	ds = check_daemonset(build, os.path.join(deploy, "daemonset.yaml"), entry)

	check_scrape_config(os.path.join(deploy, "prometheus-scrape.yml"), ds,
			    a.no_live or a.no_prometheus)
	exported, errs, skip = live_metrics(build, ds, a.no_live or a.no_gatescope)
	report("live_metric_names", errs, skip)
	source = "live scrape" if exported else "contract list"
	check_dashboard(os.path.join(deploy, "grafana-dashboard.json"),
			exported or CONTRACT_METRICS, source)
	return 1 if any(failed for _, failed in results) else 0


if __name__ == "__main__":
	sys.exit(main())
