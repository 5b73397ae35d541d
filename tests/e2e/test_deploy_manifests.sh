#!/bin/bash
# deploy/: the Dockerfile, the DaemonSet and the Grafana dashboard checked
# against what this repository really builds (tests/deploy/check_manifests.py),
# then the same checker run on broken copies, each of which it must reject.
# No Docker and no cluster here: the files are parsed, the binary is asked.
# run: alongside other tests (no timing oracle)
source "$(dirname "$0")/lib.sh"
CHECK=$GS_ROOT/tests/deploy/check_manifests.py

if [ ! -x "$GS_BIN" ]; then fail deploy/manifests "$GS_BIN not built"; exit 1; fi
if ! python3 -c 'import yaml' 2>/dev/null; then
	fail deploy/manifests "python3-yaml missing (tools/install-deps.sh installs it)"
	exit 1
fi

export GS_DEPLOY_CACHE=$GS_TMP/pkg-cache
mkdir -p "$GS_DEPLOY_CACHE"
python3 "$CHECK" --root "$GS_ROOT" || GS_FAILS=$((GS_FAILS + 1))

# mutant NAME CHECK FILE PYTHON-EXPR: copy deploy/, rewrite FILE with the
# python expression over its text `s`, and expect "FAIL deploy/CHECK".
# Without processes (--no-live) unless LIVE=1.
mutant() {
	local name=$1 check=$2 file=$3 expr=$4 dir=$GS_TMP/$1 out
	cp -r "$GS_ROOT/deploy" "$dir"
	python3 -c "import sys; p=sys.argv[1]; s=open(p).read(); open(p,'w').write($expr)" "$dir/$file"
	if cmp -s "$GS_ROOT/deploy/$file" "$dir/$file"; then
		fail "deploy/rejects_$name" "the mutation changed nothing in $file"
		return
	fi
	out=$(python3 "$CHECK" --root "$GS_ROOT" --deploy "$dir" $([ -n "${LIVE:-}" ] && echo --no-gatescope || echo --no-live) 2>&1)
	if grep -q "^FAIL deploy/$check" <<<"$out"; then
		pass "deploy/rejects_$name"
	else
		fail "deploy/rejects_$name" "checker did not fail $check: $(grep -c '^PASS' <<<"$out") passes"
	fi
}

D=daemonset.yaml G=grafana-dashboard.json F=Dockerfile
mutant missing_capability daemonset_privileges $D \
	"s.replace('- SYS_PTRACE', '', 1)"
mutant extra_capability daemonset_privileges $D \
	"s.replace('- BPF ', '- SYS_ADMIN\n                - BPF ', 1)"
mutant no_host_pid daemonset_privileges $D \
	"s.replace('hostPID: true', 'hostPID: false', 1)"
mutant unknown_flag daemonset_command $D \
	"s.replace('- --interval', '- --intervals', 1)"
mutant bad_flag_value daemonset_command $D \
	"s.replace('- json', '- yaml', 1)"
mutant undefined_env daemonset_command $D \
	"s.replace('\$(NODE_IP):9464', '\$(HOST_IP):9464', 1)"
mutant wrong_binary daemonset_command $D \
	"s.replace('command: [\"/usr/local/sbin/gatescope\"]', 'command: [\"/usr/bin/gatescope\"]', 1)"
mutant scrape_port daemonset_probe_and_scrape $D \
	"s.replace('prometheus.io/port: \"9464\"', 'prometheus.io/port: \"9465\"', 1)"
mutant unquoted_annotation daemonset_parse $D \
	"s.replace('prometheus.io/port: \"9464\"', 'prometheus.io/port: 9464', 1)"
mutant probe_path daemonset_probe_and_scrape $D \
	"s.replace('path: /healthz', 'path: /health', 1)"
mutant missing_mount daemonset_mounts $D \
	"s.replace('mountPath: /sys/kernel/tracing', 'mountPath: /tracing', 1)"
mutant writable_mount daemonset_mounts $D \
	"s.replace('readOnly: true', 'readOnly: false', 1)"
mutant no_limits daemonset_resources $D \
	"s.replace('limits:', 'unused:', 1)"
mutant untolerated_taint daemonset_scheduling $D \
	"s.replace('- key: node-role.kubernetes.io/gateway\n          operator: Exists\n          effect: NoSchedule', '- key: dedicated\n          operator: Exists\n          effect: NoSchedule', 1).replace('- key: node-role.kubernetes.io/gateway\n          operator: Exists\n          effect: NoExecute', '- key: dedicated\n          operator: Exists\n          effect: NoExecute', 1)"
mutant unknown_metric dashboard_queries_exported_metrics $G \
	"s.replace('gatescope_retransmits_total', 'gatescope_retransmissions_total', 1)"
mutant unknown_label dashboard_queries_exported_metrics $G \
	"s.replace('sum by (backend, direction)', 'sum by (backend, dir)', 1)"
mutant counter_without_rate dashboard_queries_exported_metrics $G \
	"s.replace('(rate(gatescope_retransmits_total', '((gatescope_retransmits_total', 1)"
mutant undefined_variable dashboard_model $G \
	"s.replace('route=~\\\\\"\$route\\\\\"', 'route=~\\\\\"\$path\\\\\"', 1)"
mutant overlapping_panels dashboard_model $G \
	"s.replace('\"x\": 12,', '\"x\": 4,', 1)"
mutant missing_panel dashboard_covers_contract_metrics $G \
	"s.replace('gatescope_timeout_closes_total', 'gatescope_resets_total')"
mutant scrape_annotation_ignored scrape_config prometheus-scrape.yml \
	"s.replace('__meta_kubernetes_pod_annotation_prometheus_io_scrape]', '__meta_kubernetes_pod_annotation_scrape]', 1)"
mutant scrape_bad_regex scrape_config prometheus-scrape.yml \
	"s.replace('regex: ([^:]+)(?::\\\\d+)?;(\\\\d+)', 'regex: ([^:]+)(?::\\\\d+)?;(\\\\d+', 1)"
# promtool accepts this one; only a real Prometheus shows the wrong port.
LIVE=1 mutant scrape_wrong_port scrape_config prometheus-scrape.yml \
	"s.replace('replacement: \$1:\$2', 'replacement: \$1:7', 1)"
mutant build_not_debian12 dockerfile_build_stage $F \
	"s.replace('FROM debian:12 AS build', 'FROM debian:11 AS build', 1)"
mutant sources_not_copied dockerfile_build_stage $F \
	"s.replace('COPY headers ./headers\n', '', 1)"
mutant compiler_in_runtime dockerfile_runtime_stage $F \
	"s.replace('libbpf1 libelf1', 'libbpf1 gcc libelf1', 1)"
mutant unknown_package dockerfile_runtime_stage $F \
	"s.replace('libmicrohttpd12', 'libmicrohttpd10', 1)"
mutant missing_runtime_lib dockerfile_runtime_libs $F \
	"s.replace('libbpf1 libelf1 zlib1g', 'libmicrohttpd12', 1)"
mutant copies_other_file dockerfile_binary $F \
	"s.replace('/src/build/gatescope', '/src/gatescope', 1)"
mutant shell_entrypoint dockerfile_binary $F \
	"s.replace('ENTRYPOINT [\"/usr/local/sbin/gatescope\"]', 'ENTRYPOINT /usr/local/sbin/gatescope', 1)"
mutant unknown_cmd_flag dockerfile_binary $F \
	"s.replace('\"-i\", \"10\"', '\"--period\", \"10\"', 1)"

[ "$GS_FAILS" -eq 0 ]
