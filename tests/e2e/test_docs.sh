#!/bin/bash
# The documentation matches the code: every long option of `gatescope
# --help` has an entry in the man page (docs/gatescope.8) and a row in
# docs/reference.md, and every option the man page names exists in --help;
# every reason and term code attribute.c can give, and every metric family
# prom.c exports, is in docs/reference.md (and no other metric is).
# Needs no root.  GS_DOC_MAN / GS_DOC_REF point it at other files.
# run: alongside other tests (no timing oracle)
. "$(dirname "$0")/lib.sh"
T=docs
MAN=${GS_DOC_MAN:-$GS_ROOT/docs/gatescope.8}
REF=${GS_DOC_REF:-$GS_ROOT/docs/reference.md}
ATTR=$GS_ROOT/userspace/attribute.c
PROM=$GS_ROOT/userspace/prom.c
[ -x "$GS_BIN" ] || { fail $T "$GS_BIN not built"; exit 1; }
for f in "$MAN" "$REF" "$ATTR" "$PROM"; do
	[ -r "$f" ] || { fail $T "$f missing"; exit 1; }
done

# check NAME WHAT LIST-FILE: FAIL naming the missing items, else PASS.
check() {
	if [ -s "$3" ]; then
		fail "$T: $1" "$2: $(tr '\n' ' ' <"$3")"
	else
		pass "$T: $1"
	fi
}

longopts() { grep -oE -- '--[a-z][a-z0-9-]*[a-z0-9]' | sort -u; }

help=$GS_TMP/help
if ! "$GS_BIN" --help >"$GS_TMP/help.txt" 2>&1; then
	fail "$T: --help" "exit status $?"; exit 1
fi
longopts <"$GS_TMP/help.txt" >"$help"
if [ "$(wc -l <"$help")" -lt 20 ]; then
	fail "$T: --help" "only $(wc -l <"$help") long options found"; exit 1
fi

# The man page as text: roff's \- is a dash, font escapes go.
mantext=$GS_TMP/man.txt
sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\(em/-/g' "$MAN" >"$mantext"
# Options with an entry of their own: the tag line after each .TP.
awk 'tp { print; tp = 0 } /^\.TP/ { tp = 1 }' "$mantext" | longopts >"$GS_TMP/man-items"
longopts <"$mantext" >"$GS_TMP/man-all"
# Options in the reference's command-line table (rows starting "| `-").
grep -E '^\| *`-' "$REF" | longopts >"$GS_TMP/ref-rows"

comm -23 "$help" "$GS_TMP/man-items" >"$GS_TMP/miss"
check "every --help option has a man page entry" "not in $(basename "$MAN")" "$GS_TMP/miss"
comm -13 "$help" "$GS_TMP/man-all" >"$GS_TMP/miss"
check "every man page option exists in --help" "not in --help" "$GS_TMP/miss"
comm -23 "$help" "$GS_TMP/ref-rows" >"$GS_TMP/miss"
check "every --help option has a reference row" "not in $(basename "$REF")" "$GS_TMP/miss"
comm -13 "$help" "$GS_TMP/ref-rows" >"$GS_TMP/miss"
check "every reference option exists in --help" "not in --help" "$GS_TMP/miss"

# Reasons and term codes: every set(v, CAUSE_X, "reason", "term") call.
grep -oE 'set\(v, CAUSE_[A-Z]+, "[a-z_]+", "[^"]*"' "$ATTR" >"$GS_TMP/sets"
if [ "$(wc -l <"$GS_TMP/sets")" -lt 15 ]; then
	fail "$T: reasons" "only $(wc -l <"$GS_TMP/sets") found in attribute.c"
else
	: >"$GS_TMP/miss"
	: >"$GS_TMP/miss2"
	while IFS='"' read -r _ reason _ term _; do
		grep -qF "\`$reason\`" "$REF" || echo "$reason" >>"$GS_TMP/miss"
		grep -qF "\`$term\`" "$REF" || echo "$term" >>"$GS_TMP/miss2"
	done <"$GS_TMP/sets"
	sort -u -o "$GS_TMP/miss" "$GS_TMP/miss"
	sort -u -o "$GS_TMP/miss2" "$GS_TMP/miss2"
	check "every reason in attribute.c is in the reference" "missing" "$GS_TMP/miss"
	check "every term code in attribute.c is in the reference" "missing" "$GS_TMP/miss2"
	# attribute() may also return the ternary's term "CR".
	grep -oE '"[A-Za-z-]{2}" : "[A-Za-z-]{2}"' "$ATTR" | grep -oE '[A-Za-z-]{2}' |
		while read -r term; do grep -qF "\`$term\`" "$REF" || echo "$term"; done >"$GS_TMP/miss"
	check "every alternative term code is in the reference" "missing" "$GS_TMP/miss"
fi

# Metric families: the .name of every family in prom.c, both ways.
grep -oE '\.name = "gatescope_[a-z0-9_]+"' "$PROM" | grep -oE 'gatescope_[a-z0-9_]+' |
	sort -u >"$GS_TMP/prom"
grep -oE '`gatescope_[a-z0-9_]+`' "$REF" | tr -d '`' | sort -u >"$GS_TMP/ref-metrics"
if [ "$(wc -l <"$GS_TMP/prom")" -lt 10 ]; then
	fail "$T: metrics" "only $(wc -l <"$GS_TMP/prom") families found in prom.c"
else
	comm -23 "$GS_TMP/prom" "$GS_TMP/ref-metrics" >"$GS_TMP/miss"
	check "every metric in prom.c is in the reference" "missing" "$GS_TMP/miss"
	comm -13 "$GS_TMP/prom" "$GS_TMP/ref-metrics" >"$GS_TMP/miss"
	check "every metric in the reference exists in prom.c" "not exported" "$GS_TMP/miss"
fi

# The man page renders without warnings (when groff is here).
if command -v groff >/dev/null; then
	if out=$(groff -man -ww -z "$MAN" 2>&1) && [ -z "$out" ]; then
		pass "$T: man page renders without warnings"
	else
		fail "$T: man page renders without warnings" "$(echo "$out" | head -3 | tr '\n' ' ')"
	fi
else
	skip "$T: man page rendering" "groff not installed"
fi
[ "$GS_FAILS" -eq 0 ]
