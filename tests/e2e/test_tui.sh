#!/bin/bash
# -o tui, used as a person would: gatescope runs full screen in a tmux pane
# (160x45) while a real nginx in a namespace of this run proxies three
# routes, one healthy, one to a backend slower than nginx's read timeout
# (504), one to a port nobody listens on (502).  Keys go in with
# tmux send-keys; what the screen shows comes back with capture-pane and
# is checked against what the client saw:
#   - route rows with their request, status and 504-cause counts;
#   - the backends panel (refused connects, connect and TTFB p99);
#   - "s" cycles the sort (504/s, requests, p99, 5xx) and the rows reorder;
#   - "/" filters by route or by backend name (which also finds its routes);
#   - "p" pauses: new requests do not show until it is pressed again;
#   - "e" lists the failing requests with status, reason and evidence;
#   - redraws never clear the screen (no flicker);
#   - a tiny window shows "window too small" and the view comes back;
#   - "q" and SIGTERM give the terminal back as it was (stty -g equal, no
#     alternate screen, the shell prompt), SIGHUP reloads --backend-names
#     and its log line is shown at the bottom and printed after exit;
#   - without a terminal, -o tui refuses with one clear line.
. "$(dirname "$0")/lib.sh"
T=tui
gs_require_bpf "$T"
for c in tmux nginx python3 curl; do
	command -v "$c" >/dev/null || { skip "$T" "$c not installed"; exit 0; }
done

NS=$(gs_ns tui) || { fail "$T" "namespace"; exit 1; }
P_GW=$((20000 + GS_SUFFIX % 20000))
P_OK=$((P_GW + 1)) P_SLOW=$((P_GW + 2)) P_DOWN=$((P_GW + 3))
NGX=gstui$((GS_SUFFIX % 1000000))	# a comm of our own: gatescope traces only this nginx
DIR=$GS_TMP/nginx
TM=(tmux -L "gstui$GS_SUFFIX" -f /dev/null)
NAMES=$GS_TMP/backend-names
R_OK="GET tui.test/api/orders/{id}"
R_SLOW="GET tui.test/api/slow/{id}"
R_DOWN="GET tui.test/api/down/{id}"

tui_cleanup() {
	"${TM[@]}" kill-server 2>/dev/null
	gs_cleanup
}
trap tui_cleanup EXIT

mkdir -p "$DIR"
chmod 755 "$GS_TMP" "$DIR"	# nginx workers drop root
cp "$(command -v nginx)" "$GS_TMP/$NGX"

cat >"$GS_TMP/backend.py" <<'EOF'
# A tiny HTTP/1.1 backend: answers "ok" after DELAY seconds; lives 120 s.
import os, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
port, delay = int(sys.argv[1]), float(sys.argv[2])
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        time.sleep(delay)
        try:
            self.send_response(200)
            self.send_header("Content-Length", "3")
            self.end_headers()
            self.wfile.write(b"ok\n")
        except OSError:
            pass
    def log_message(self, *a):
        pass
threading.Timer(120, lambda: os._exit(0)).start()
ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
EOF

{
gs_nginx_head "$DIR" 1
cat <<EOF
    access_log off;
    upstream orders { server 127.0.0.1:$P_OK; }
    upstream slow { server 127.0.0.1:$P_SLOW; }
    upstream down { server 127.0.0.1:$P_DOWN; }
    server {
        listen 127.0.0.1:$P_GW;
        proxy_connect_timeout 1s;
        proxy_read_timeout 1s;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        location /api/orders/ { proxy_pass http://orders; }
        location /api/slow { proxy_pass http://slow; }
        location /api/down { proxy_pass http://down; }
    }
}
EOF
} >"$DIR/nginx.conf"
printf '127.0.0.1:%s orders-svc\n127.0.0.1:%s slow-svc\n127.0.0.1:%s down-svc\n' \
	"$P_OK" "$P_SLOW" "$P_DOWN" >"$NAMES"

gs_bg ip netns exec "$NS" python3 "$GS_TMP/backend.py" "$P_OK" 0
gs_bg ip netns exec "$NS" python3 "$GS_TMP/backend.py" "$P_SLOW" 3
gs_bg ip netns exec "$NS" "$GS_TMP/$NGX" -p "$DIR" -c "$DIR/nginx.conf" -e "$DIR/error.log" \
	-g 'daemon off;'
for p in "$P_OK" "$P_SLOW" "$P_GW"; do
	gs_wait_listen "$NS" "$p" || { fail "$T" "nothing listens on $p: $(tail -2 "$DIR/error.log")"; exit 1; }
done

# Requests from the namespace; every status the client got goes to
# $GS_TMP/client as "ROUTE STATUS".
client() {	# ROUTE-NAME URL
	ip netns exec "$NS" curl -s -o /dev/null --max-time 10 -H 'Host: tui.test' \
		-w "$1 %{http_code}\n" "http://127.0.0.1:$P_GW$2" >>"$GS_TMP/client"
}
traffic() {	# ORDERS SLOW DOWN: how many requests to each route
	local i pids=()
	for i in $(seq "$2"); do
		client slow "/api/slow/$i" &	# distinct paths: see the report
		pids+=($!)
	done
	[ "$1" -gt 0 ] && client orders "/api/orders/[1-$1]"
	[ "$3" -gt 0 ] && client down "/api/down/[1-$3]"
	[ ${#pids[@]} -eq 0 ] || wait "${pids[@]}"
}
seen() {	# ROUTE-NAME [STATUS]: how many answers the client got
	grep -c "^$1 ${2:-}" "$GS_TMP/client"
}

# --- reading the screen --------------------------------------------------

screen() { "${TM[@]}" capture-pane -p -t tui; }

# wait_screen SECONDS PYTHON-EXPR: until the expression over the parsed
# screen (see screen.py) is true; the last screen is kept in $GS_TMP/screen.
wait_screen() {
	local secs=$1 expr=$2
	for _ in $(seq $((secs * 5))); do
		screen >"$GS_TMP/screen"
		python3 "$GS_TMP/screen.py" "$GS_TMP/screen" "$expr" && return 0
		sleep 0.2
	done
	return 1
}

cat >"$GS_TMP/screen.py" <<'EOF'
# Parse a captured gatescope TUI screen and evaluate a condition over it.
#   routes:   [ {"name": ..., "REQS": "12", ...}, ... ] in screen order
#   backends: the same for the backends panel ("name" is the BACKEND cell)
#   text:     the whole screen
import sys

def table(lines, first):
    """Rows under the header line that starts with FIRST: each cell ends
    where its right-aligned title ends."""
    for n, line in enumerate(lines):
        if line.startswith(first + " "):
            break
    else:
        return []
    titles, pos = [], len(first)
    for word in line[len(first):].split():
        end = line.index(word, pos) + len(word)
        titles.append((word, end))
        pos = end
    rows = []
    for row in lines[n + 1:]:
        if not row.strip() or row.startswith(" ") or row.startswith("("):
            break
        head = row[:titles[0][1]].rstrip()
        name, _, first_val = head.rpartition(" ")
        cells = {"name": name.strip(), titles[0][0]: first_val}
        for (t, end), (_, prev) in zip(titles[1:], titles):
            cells[t] = row[prev:end].strip()
        rows.append(cells)
    return rows

text = open(sys.argv[1]).read()
lines = text.split("\n")
routes = table(lines, "ROUTE")
backends = table(lines, "BACKEND")
def route(name):
    return next((r for r in routes if r["name"] == name), {})
def backend(sub):
    return next((b for b in backends if sub in b["name"]), {})
def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None
ok = eval("(" + sys.argv[2] + ")")
if not ok and len(sys.argv) > 3:
    print(text)
sys.exit(0 if ok else 1)
EOF

# check NAME SECONDS EXPR: PASS when the screen gets there in time.
# GS_TUI_SHOTS=DIR keeps every checked screen there, to look at.
SHOT=0
check() {
	local ok=0
	wait_screen "$2" "$3" || ok=$?
	if [ -n "${GS_TUI_SHOTS:-}" ]; then
		SHOT=$((SHOT + 1))
		cp "$GS_TMP/screen" "$GS_TUI_SHOTS/$(printf %02d $SHOT)-${1//[^a-zA-Z0-9]/_}.txt"
	fi
	if [ $ok = 0 ]; then
		pass "$T/$1"
	else
		fail "$T/$1" "screen never showed: $3"
		sed 's/^/    # /' "$GS_TMP/screen"
	fi
}

keys() { "${TM[@]}" send-keys -t tui "$@"; }

# run_tui ARGS...: in the pane, record the terminal settings, run
# gatescope (its pid goes to $GS_TMP/gs.pid) and print how it ended.
run_tui() {
	rm -f "$GS_TMP/gs.pid"
	keys -l "S0=\$(stty -g); sh -c 'echo \$\$ >$GS_TMP/gs.pid; exec \"\$0\" \"\$@\"' $GS_BIN -o tui -i 0.5 -c $NGX --backend-names $NAMES $*; echo \"GSEXIT=\$? STTY=\$([ \"\$(stty -g)\" = \"\$S0\" ] && echo same || echo changed)\""
	keys Enter
	for _ in $(seq 50); do
		[ -s "$GS_TMP/gs.pid" ] && break
		sleep 0.1
	done
	GS_TUI_PID=$(cat "$GS_TMP/gs.pid" 2>/dev/null)
}

# ended NAME SECONDS: gatescope ended, the terminal is as it was.
ended() {
	local name=$1 secs=$2
	if wait_screen "$secs" '"GSEXIT=0 STTY=same" in text'; then
		pass "$T/$name: exit 0, terminal settings restored"
	else
		fail "$T/$name: exit 0, terminal settings restored" "pane: $(grep GSEXIT "$GS_TMP/screen")"
		sed 's/^/    # /' "$GS_TMP/screen"
	fi
	wait_screen 3 "any(l.rstrip() == 'gsprompt\$' for l in lines)"
	if [ "$("${TM[@]}" display -p -t tui '#{alternate_on}')" = 0 ] &&
		! grep -q -e ' ROUTES ' -e 'lost events' "$GS_TMP/screen" &&
		grep -q '^gsprompt\$ *$' "$GS_TMP/screen"; then
		pass "$T/$name: normal screen back, no TUI left on it, shell prompt"
	else
		fail "$T/$name: normal screen back" "alternate_on $("${TM[@]}" display -p -t tui '#{alternate_on}')"
		sed 's/^/    # /' "$GS_TMP/screen"
	fi
}

# --- without a terminal: one clear line, exit 1 -------------------------

"$GS_BIN" -o tui -c "$NGX" -d 1 </dev/null >"$GS_TMP/notty.out" 2>"$GS_TMP/notty.err"
rc=$?
if [ $rc = 1 ] && grep -q "needs a terminal" "$GS_TMP/notty.err" && [ ! -s "$GS_TMP/notty.out" ]; then
	pass "$T/no terminal: refused with one line"
else
	fail "$T/no terminal: refused with one line" "exit $rc, stderr: $(cat "$GS_TMP/notty.err")"
fi

# --- first run: the main view, keys, resize, q --------------------------

"${TM[@]}" new-session -d -s tui -x 160 -y 45 \
	"env -i PATH=$PATH TERM=screen HOME=$GS_TMP PS1='gsprompt\$ ' bash --norc --noprofile -i"
sleep 0.3
run_tui "2>$GS_TMP/gs.err"
check "starts full screen" 10 '" ROUTES " in text and " BACKENDS " in text and "lost events" in text'
for _ in $(seq 100); do
	grep -q tracing "$GS_TMP/gs.err" && break
	sleep 0.1
done

traffic 12 3 4
N_OK=$(seen orders 200) N_SLOW=$(seen slow 504) N_DOWN=$(seen down 502)
echo "# client: orders $N_OK x 200, slow $N_SLOW x 504, down $N_DOWN x 502"
[ "$N_OK" = 12 ] && [ "$N_SLOW" = 3 ] && [ "$N_DOWN" = 4 ] ||
	fail "$T/traffic" "the client did not see the expected statuses: $(sort "$GS_TMP/client" | uniq -c)"

check "route rows with the client's counts" 15 \
	"route('$R_OK').get('REQS') == '$N_OK' and route('$R_OK').get('2XX') == '$N_OK'
	 and route('$R_SLOW').get('REQS') == '$N_SLOW' and route('$R_SLOW').get('504') == '$N_SLOW'
	 and route('$R_DOWN').get('REQS') == '$N_DOWN' and route('$R_DOWN').get('5XX') == '$N_DOWN'
	 and route('$R_DOWN').get('504') == '0'"
check "504 cause split: the slow backend" 5 \
	"route('$R_SLOW').get('BE') == '$N_SLOW' and route('$R_SLOW').get('GW') == '0'
	 and route('$R_SLOW').get('NET') == '0' and route('$R_SLOW').get('504%') == '100.0'"
check "backends panel: refused connects, connect and TTFB p99" 5 \
	"backend('down-svc').get('REFUSED') == '$N_DOWN'
	 and num(backend('orders-svc').get('CONN_P99ms')) is not None
	 and num(backend('orders-svc').get('TTFB_P99ms')) is not None
	 and backend('orders-svc').get('REFUSED') == '0'
	 and num(backend('slow-svc').get('TTFB_P99ms')) is None"
check "status line: lost events, evicted, join rate, capture path" 3 \
	"'lost events 0' in text and 'evicted conns 0' in text and 'join rate 100.0%' in text
	 and 'capture: socket' in text"

# Sort: 504/s (default), then requests, p99, 5xx, and around again.
first_route() { echo "routes and routes[0]['name'] == '$1' and 'sort: $2' in text"; }
check "sort 504/s: the 504 route first" 3 "$(first_route "$R_SLOW" 504/s)"
keys s
check "s: sort by requests" 3 "$(first_route "$R_OK" requests)"
keys s
check "s: sort by p99" 3 "$(first_route "$R_SLOW" p99)"
keys s
check "s: sort by 5xx" 3 "$(first_route "$R_DOWN" 5xx)"
keys s
check "s: back to 504/s" 3 "$(first_route "$R_SLOW" 504/s)"

# The last interval instead of the whole run: no traffic now, no rows.
keys t
check "t: last interval" 3 \
	"'view: interval' in text and '(last 0.5 s)' in text and not routes
	 and '(no HTTP requests in the last interval)' in text"
keys t
check "t: since start again" 3 "'view: since start' in text and len(routes) == 3"

# Filter by route, then by a backend's name (its routes follow), then clear.
keys / ; keys -l down ; keys Enter
check "filter by route" 3 \
	"[r['name'] for r in routes] == ['$R_DOWN'] and [b['name'] for b in backends]
	 == ['127.0.0.1:$P_DOWN (down-svc)'] and 'filter: down' in text"
keys / ; keys BSpace BSpace BSpace BSpace ; keys -l slow-svc ; keys Enter
check "filter by backend name finds its route" 3 \
	"[r['name'] for r in routes] == ['$R_SLOW'] and len(backends) == 1"
keys Escape
check "Esc clears the filter" 3 "len(routes) == 3 and len(backends) == 3 and 'filter:' not in text"

# The failing requests, with their evidence.
keys e
check "e: failing requests with cause, reason and evidence" 3 \
	"'LAST FAILING REQUESTS  $((N_SLOW + N_DOWN)) of $((N_SLOW + N_DOWN)) seen' in text
	 and sum(1 for i, l in enumerate(lines) if ' 504  $R_SLOW  -> 127.0.0.1:$P_SLOW (slow-svc) ' in l
	         and 'backend/backend_slow' in l
	         and lines[i + 1].startswith('      ') and len(lines[i + 1].strip()) > 10) == $N_SLOW
	 and sum(1 for i, l in enumerate(lines) if ' 502  $R_DOWN' in l and 'backend/backend_refused' in l
	         and 'RST answered the SYN' in lines[i + 1]) == $N_DOWN"
keys -l /refused ; keys Enter
check "e: the filter applies to the list" 3 "'LAST FAILING REQUESTS  $N_DOWN matching of' in text"
keys Escape
check "e: Esc goes back" 3 "' ROUTES ' in text and 'filter: refused' in text"
keys / BSpace BSpace BSpace BSpace BSpace BSpace BSpace Enter

# Clients that give up after 0.4 s, before nginx's 1 s read timeout: their
# timeout is inferred and the ladder is flagged.
pids=()
for i in 11 12 13 14; do
	ip netns exec "$NS" curl -s -o /dev/null --max-time 0.4 -H 'Host: tui.test' \
		"http://127.0.0.1:$P_GW/api/slow/$i" &
	pids+=($!)
done
wait "${pids[@]}"
check "inferred timeouts and a ladder warning" 8 \
	"any(l.startswith('LADDER WARNING: ') and 'clients of :$P_GW ' in l for l in lines)
	 and any(l.startswith('client -> 0.0.0.0:$P_GW: response timeout ~ ')
	         and 0.35 <= float(l.split('~ ')[1].split()[0]) <= 0.45 for l in lines)
	 and ' INFERRED TIMEOUTS ' in text"

# Pause: new requests stay off screen until unpaused.
keys p
check "p: paused" 3 "'[PAUSED]' in text"
traffic 5 0 0
sleep 1.5	# three report intervals
check "p: numbers frozen while paused" 1 "route('$R_OK').get('REQS') == '$N_OK' and '[PAUSED]' in text"
keys p
N_OK=$(seen orders 200)
check "p again: numbers move on" 5 "route('$R_OK').get('REQS') == '$N_OK' and '[PAUSED]' not in text"

# No flicker: steady redraws (the clock moves) never clear the screen.
"${TM[@]}" pipe-pane -t tui -o "cat >>$GS_TMP/ttyout"
sleep 2.2
"${TM[@]}" pipe-pane -t tui
python3 - "$GS_TMP/ttyout" <<'EOF'
import sys
data = open(sys.argv[1], "rb").read()
clears = data.count(b"\x1b[H\x1b[J") + data.count(b"\x1b[2J")
if data and clears == 0:
    print(f"PASS tui/redraws without clearing the screen ({len(data)} bytes in 2.2 s)")
else:
    print(f"FAIL tui/redraws without clearing the screen: {len(data)} bytes, {clears} clears")
EOF

# A tiny window, then back.
"${TM[@]}" resize-window -t tui -x 40 -y 10
check "tiny window: too small message" 3 \
	"'window too small' in text and ' ROUTES ' not in text and '40x10' in text"
"${TM[@]}" resize-window -t tui -x 160 -y 45
check "window back: panels again" 3 "route('$R_OK').get('REQS') == '$N_OK' and ' BACKENDS ' in text"
"${TM[@]}" resize-window -t tui -x 80 -y 20
check "80x20: narrow columns still show the essentials" 3 \
	"route('$R_SLOW').get('504') == '$N_SLOW' and 'P99ms' in text and 'GW' in text
	 and backend('down-svc').get('REFUSED') == '$N_DOWN'"
"${TM[@]}" resize-window -t tui -x 160 -y 45

keys q
ended "q" 5

# --- second run: stderr on the terminal, SIGHUP, SIGTERM ----------------

keys -l clear ; keys Enter
run_tui
check "second run starts" 10 "' ROUTES ' in text"
sleep 1.2	# rescans done, the first report drawn
traffic 0 0 2
check "second run: the down backend by its name" 10 "backend('down-svc').get('REFUSED') == '2'"
sed -i "s/down-svc/down-renamed/" "$NAMES"
kill -HUP "$GS_TUI_PID"
check "SIGHUP: reloaded names shown, its log line at the bottom" 5 \
	"backend('down-renamed').get('REFUSED') == '2' and 'SIGHUP: reloaded' in lines[-1] + lines[-2]"
start=$(date +%s%N)
kill -TERM "$GS_TUI_PID"
for _ in $(seq 50); do
	kill -0 "$GS_TUI_PID" 2>/dev/null || break
	sleep 0.05
done
ms=$((($(date +%s%N) - start) / 1000000))
# Within 1 s of its own, plus what the kernel takes to remove the TLS
# uprobes on nginx's libssl (several grace periods each, mostly one after
# the other: 55 to 110 ms per uprobe measured), which gatescope says it is
# doing: "removing N TLS uprobes".
if kill -0 "$GS_TUI_PID" 2>/dev/null; then
	for _ in $(seq 60); do kill -0 "$GS_TUI_PID" 2>/dev/null || break; sleep 0.05; done
	ms=$((($(date +%s%N) - start) / 1000000))
fi
"${TM[@]}" capture-pane -p -t tui -S -200 >"$GS_TMP/screen"
nprobes=$(sed -n 's/.*removing \([0-9]*\) TLS uprobes.*/\1/p' "$GS_TMP/screen" | tail -1)
bound=$((1000 + 150 * ${nprobes:-0}))
if kill -0 "$GS_TUI_PID" 2>/dev/null; then
	fail "$T/SIGTERM: exits within 1 s (+0.15 s per TLS uprobe: ${nprobes:-0})" "still running after $ms ms"
elif [ "$ms" -le "$bound" ]; then
	pass "$T/SIGTERM: exits within 1 s (+0.15 s per TLS uprobe: ${nprobes:-0}): $ms ms"
else
	fail "$T/SIGTERM: exits within 1 s (+0.15 s per TLS uprobe: ${nprobes:-0})" "$ms ms"
fi
ended "SIGTERM" 5
if grep -q "gatescope: SIGHUP: reloaded $NAMES" "$GS_TMP/screen"; then
	pass "$T/log lines captured during the TUI are printed after it"
else
	fail "$T/log lines captured during the TUI are printed after it"
	sed 's/^/    # /' "$GS_TMP/screen"
fi

# --- third run: Ctrl-C ---------------------------------------------------

keys -l clear ; keys Enter
run_tui "2>/dev/null"
check "third run starts" 10 "' ROUTES ' in text"
keys C-c
ended "Ctrl-C" 5

exit $((GS_FAILS > 0))
