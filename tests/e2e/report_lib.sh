# SPDX-License-Identifier: MIT
# Helpers for the incident report tests (test_report_*.sh); source it after
# lib.sh.  The report is loaded in a real browser, Debian's chromium, headless,
# inside a network namespace of its own with only loopback up (nothing it
# tries can leave the machine), with chromium's network log on: every
# request the page makes is in it, whether or not it succeeds.

# report_need_tools TEST: SKIP (loudly) and exit when chromium or html5lib
# is missing (tools/install-deps.sh installs both).
report_need_tools() {
	if ! command -v chromium >/dev/null; then
		skip "$1" "chromium not installed (tools/install-deps.sh installs it)"; exit 0
	fi
	if ! python3 -c 'import html5lib' 2>/dev/null; then
		skip "$1" "python3-html5lib not installed (tools/install-deps.sh installs it)"; exit 0
	fi
	if [ "$(id -u)" != 0 ]; then
		skip "$1" "needs root for the browser's network namespace"; exit 0
	fi
}

REPORT_CHECK=${GS_ROOT:-.}/tests/e2e/report_check.py

# report_browse HTML DOM NETLOG: chromium loads file://HTML and writes the
# DOM after its scripts ran to DOM, its network log to NETLOG (bounded: 90 s).
report_browse() {
	local html=$1 dom=$2 netlog=$3 ns
	ns=$(gs_ns browser) || return 1
	GS_NETNS+=("$ns")
	# The browser runs as root here; --no-sandbox is what it needs for that.
	chmod 644 "$html"
	timeout 90 ip netns exec "$ns" chromium --headless --no-sandbox --disable-gpu \
		--disable-background-networking --disable-component-update --disable-sync \
		--disable-default-apps --disable-extensions --no-first-run \
		--user-data-dir="$GS_TMP/chromium.$$.$RANDOM" \
		--log-net-log="$netlog" --net-log-capture-mode=Everything \
		--dump-dom "file://$html" >"$dom" 2>"$dom.err"
	local rc=$?
	ip netns del "$ns" 2>/dev/null
	[ "$rc" -eq 0 ] && [ -s "$dom" ] && [ -s "$netlog" ]
}
