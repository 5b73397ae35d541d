#!/bin/bash
# SPDX-License-Identifier: MIT
# The incident report of a recorded fixture (nginx in front of a fast and a
# slow server, 49 of 110 requests timed out), opened in a real browser:
# --replay FIX --report FILE writes one HTML file that passes html5lib's
# strict parser; chromium, in a network namespace with its network log
# on, renders it without fetching anything (and the same check catches a
# page that does fetch); the rendered DOM holds the timeline's bars (per
# second and per cause equal to the request lines of --replay FIX -e all),
# one failed-request row per failed request of each verdict, the route and
# backend tables of the total, the per-backend total-time histograms and
# the ladder's inferred read timeout.  The file itself: mode 0600, never
# over an existing file or through a symlink, a failed write fails the run.
# run: alongside other tests (no timing oracle)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/report_lib.sh"
T=report_html
FIX=$GS_ROOT/tests/fixtures/nginx_mixed_servers.gsr
[ -x "$GS_BIN" ] || { fail $T "$GS_BIN not built"; exit 1; }
report_need_tools $T

R=$GS_TMP/report.html
"$GS_BIN" --replay "$FIX" --json -e all >"$GS_TMP/replay.json" 2>"$GS_TMP/replay.err" ||
	fail "$T: replay" "exit $?"
if "$GS_BIN" --replay "$FIX" --json --report "$R" >/dev/null 2>"$GS_TMP/report.err"; then
	pass "$T: --replay --report exits 0"
else
	fail "$T: --replay --report" "exit $?: $(head -3 "$GS_TMP/report.err")"; exit 1
fi
gs_check "$T: report file mode" "$(stat -c %a "$R")" 600
python3 "$REPORT_CHECK" valid "$R" || GS_FAILS=$((GS_FAILS + 1))

if report_browse "$R" "$GS_TMP/report.dom" "$GS_TMP/report.netlog"; then
	pass "$T: chromium rendered the report"
	python3 "$REPORT_CHECK" netlog "$GS_TMP/report.netlog" none || GS_FAILS=$((GS_FAILS + 1))
	python3 "$REPORT_CHECK" dom "$GS_TMP/report.dom" "$GS_TMP/replay.json" ||
		GS_FAILS=$((GS_FAILS + 1))
else
	fail "$T: chromium rendered the report" "$(tail -3 "$GS_TMP/report.dom.err")"
fi

# Negative control: a page that fetches an image and a URL on loopback
# (inside the browser's namespace: refused, but attempted) must be caught.
cat >"$GS_TMP/fetches.html" <<'EOF'
<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>fetches</title></head>
<body><img src="http://127.0.0.1:9/canary.png" alt=""><script>fetch('http://127.0.0.1:9/x').catch(function(){});</script></body></html>
EOF
if report_browse "$GS_TMP/fetches.html" "$GS_TMP/fetches.dom" "$GS_TMP/fetches.netlog"; then
	python3 "$REPORT_CHECK" netlog "$GS_TMP/fetches.netlog" some || GS_FAILS=$((GS_FAILS + 1))
else
	fail "$T: chromium rendered the negative control" "$(tail -3 "$GS_TMP/fetches.dom.err")"
fi

# The file: never overwritten, never through a symlink, a write error fails.
echo keep >"$GS_TMP/exists.html"
"$GS_BIN" --replay "$FIX" --json --report "$GS_TMP/exists.html" >/dev/null 2>"$GS_TMP/exists.err"
rc=$?
if [ "$rc" = 1 ] && [ "$(cat "$GS_TMP/exists.html")" = keep ] && grep -q "exists" "$GS_TMP/exists.err"; then
	pass "$T: an existing file is refused (exit 1), left as it was"
else
	fail "$T: an existing file is refused" "exit $rc, $(head -2 "$GS_TMP/exists.err")"
fi
echo target >"$GS_TMP/target"
ln -s "$GS_TMP/target" "$GS_TMP/link.html"
"$GS_BIN" --replay "$FIX" --json --report "$GS_TMP/link.html" >/dev/null 2>"$GS_TMP/link.err"
rc=$?
if [ "$rc" = 1 ] && [ "$(cat "$GS_TMP/target")" = target ] && grep -q "symbolic link" "$GS_TMP/link.err"; then
	pass "$T: a symlink is not followed (exit 1), its target untouched"
else
	fail "$T: a symlink is not followed" "exit $rc, $(head -2 "$GS_TMP/link.err")"
fi
if [ -w /dev/full ]; then
	"$GS_BIN" --replay "$FIX" --json --report /dev/full >/dev/null 2>"$GS_TMP/full.err"
	rc=$?
	if [ "$rc" = 1 ] && grep -q "report is incomplete" "$GS_TMP/full.err"; then
		pass "$T: a report that cannot be written fails the run (exit 1)"
	else
		fail "$T: a report that cannot be written fails the run" "exit $rc, $(head -2 "$GS_TMP/full.err")"
	fi
fi
# A recording cut inside its last event: everything before the cut is
# reported (exit 3), the report too.
head -c 100000 "$FIX" >"$GS_TMP/torn.gsr"
"$GS_BIN" --replay "$GS_TMP/torn.gsr" --json --report "$GS_TMP/torn.html" >/dev/null 2>&1
rc=$?
if [ "$rc" = 3 ] && grep -q '</html>' "$GS_TMP/torn.html" 2>/dev/null; then
	pass "$T: a torn recording is reported up to the cut, report included (exit 3)"
else
	fail "$T: a torn recording is reported up to the cut" "exit $rc"
fi
# A file that is no recording prints no total: no report, no file left.
echo "not a gatescope recording, only some text to be refused" >"$GS_TMP/bad.gsr"
"$GS_BIN" --replay "$GS_TMP/bad.gsr" --json --report "$GS_TMP/bad.html" >/dev/null 2>&1
rc=$?
if [ "$rc" = 1 ] && [ ! -e "$GS_TMP/bad.html" ]; then
	pass "$T: a replay that fails leaves no report file (exit 1)"
else
	fail "$T: a replay that fails leaves no report file" "exit $rc, $(ls -la "$GS_TMP/bad.html" 2>&1)"
fi
exit $((GS_FAILS > 0))
