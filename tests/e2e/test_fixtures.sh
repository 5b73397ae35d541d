#!/bin/bash
# SPDX-License-Identifier: MIT
# The fixtures' recipe (`make fixtures`, README "Fixtures"): gs-rerecord
# rewrites every tests/fixtures recording in today's record format, and the
# rewritten file replays to exactly what the original replays to.  Needs no
# root; writes nothing under tests/.
# run: alongside other tests (no timing oracle)
. "$(dirname "$0")/lib.sh"
T=fixtures
RR=$GS_TOOLS/gs-rerecord
[ -x "$GS_BIN" ] || { fail $T "$GS_BIN not built"; exit 1; }
[ -x "$RR" ] || { fail $T "$RR not built (make tools)"; exit 1; }
want=$(sed -n 's/^#define GS_REC_VERSION[[:space:]]*\([0-9]*\).*/\1/p' "$GS_ROOT/userspace/decoder.h")

for f in "$GS_ROOT"/tests/fixtures/*.gsr; do
	name=$(basename "$f")
	new=$GS_TMP/$name
	if ! "$RR" "$f" "$new" 2>"$GS_TMP/rr.err"; then
		fail "$T: $name rewritten" "$(cat "$GS_TMP/rr.err")"; continue
	fi
	version=$(od -An -tu4 -j8 -N4 "$new" | tr -d ' ')
	gs_check "$T: $name rewritten in record format $want" "$version" "$want"
	"$GS_BIN" --replay "$f" --json -e all >"$GS_TMP/old.json" 2>&1
	"$GS_BIN" --replay "$new" --json -e all >"$GS_TMP/new.json" 2>&1
	if cmp -s "$GS_TMP/old.json" "$GS_TMP/new.json"; then
		pass "$T: $name replays the same after the rewrite"
	else
		fail "$T: $name replays the same after the rewrite" \
			"$(diff "$GS_TMP/old.json" "$GS_TMP/new.json" | head -5)"
	fi
done
# A rewrite never replaces an existing file.
if "$RR" "$GS_ROOT/tests/fixtures/proxy_stall.gsr" "$GS_TMP/proxy_stall.gsr" 2>/dev/null; then
	fail "$T: an existing output is refused" "it was overwritten"
else
	pass "$T: an existing output is refused"
fi
[ "$GS_FAILS" -eq 0 ]
