// gs-goproxy: a small Go reverse proxy (net/http/httputil.ReverseProxy,
// standard library only), one of the gateways of gatescope's end-to-end
// tests.  Goroutines migrate between OS threads and the Transport pools
// upstream connections, so it joins requests to attempts differently from
// nginx and HAProxy.
//
//	gs-goproxy [OPTIONS] -listen HOST:PORT[,HOST:PORT...] ROUTE...
//
// ROUTE is PREFIX=BACKEND[,BACKEND...][;KEY=VALUE...]: requests whose path
// is PREFIX or under it go to the backends (host:port, [v6]:port) in round
// robin.  Keys: connect=DURATION (dial timeout), read=DURATION (response
// header timeout; both default to the options), rewrite=PATH (the prefix is
// replaced by PATH, as nginx's "proxy_pass http://be/v2/").  Other paths
// get 404.
//
// Every upstream failure is answered by the ErrorHandler: 504 when it was a
// timeout (dial timeout, response header timeout), 502 otherwise (refused,
// reset, closed, the client went away).  One access-log line per request:
//
//	METHOD PATH STATUS UPSTREAM_STATUS BACKEND ATTEMPTS CONNECT_S HEADER_S DURATION_S ERROR...
//
// "-" for what did not happen (no backend chosen, no upstream answer, no
// error).  ATTEMPTS counts the Transport's tries to get a connection for the
// request (it retries by itself a request whose pooled connection turned out
// dead before anything was written).  CONNECT_S is the last attempt's
// handshake (0 on a pooled connection), HEADER_S the time from the start of
// that attempt to the first response byte, DURATION_S the whole request.
// Prints "ready" on stdout once listening; exits after -max-seconds.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var (
	listen         = flag.String("listen", "", "HOST:PORT[,HOST:PORT...] to accept clients on")
	connectTimeout = flag.Duration("connect-timeout", time.Second, "default upstream dial timeout")
	readTimeout    = flag.Duration("read-timeout", 2*time.Second, "default upstream response header timeout")
	idleTimeout    = flag.Duration("idle-timeout", 60*time.Second, "pooled upstream connections live this long idle")
	keepalive      = flag.Int("keepalive", 0, "idle upstream connections kept per backend (0: none, one connection per request)")
	maxSeconds     = flag.Int("max-seconds", 60, "exit after this many seconds")
	accessLog      = flag.String("access-log", "", "access log file (default stderr)")
)

type route struct {
	prefix   string
	backends []string
	rewrite  string // "" keeps the path
	next     uint32
	proxy    *httputil.ReverseProxy
}

type ctxKey int

const stateKey ctxKey = 0

// What the access log says about one request, filled in by the client
// trace, the Director, ModifyResponse and the ErrorHandler.
type reqState struct {
	mu           sync.Mutex
	start        time.Time
	attemptStart time.Time
	backend      string
	err          error
	upstream     int
	attempts     int
	connectS     float64 // -1: no connection
	headerS      float64 // -1: no response head
}

func stateOf(ctx context.Context) *reqState { return ctx.Value(stateKey).(*reqState) }

func secs(v float64) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f", v)
}

func under(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, strings.TrimSuffix(prefix, "/")+"/")
}

func isTimeout(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return strings.Contains(err.Error(), "timeout awaiting response headers")
}

func parseRoute(s string) (*route, error) {
	parts := strings.Split(s, ";")
	eq := strings.IndexByte(parts[0], '=')
	if eq <= 0 {
		return nil, fmt.Errorf("route %q: want PREFIX=BACKEND[,BACKEND...][;KEY=VALUE...]", s)
	}
	r := &route{prefix: parts[0][:eq]}
	for _, b := range strings.Split(parts[0][eq+1:], ",") {
		if b == "" {
			return nil, fmt.Errorf("route %q: empty backend", s)
		}
		r.backends = append(r.backends, b)
	}
	connect, read := *connectTimeout, *readTimeout
	for _, kv := range parts[1:] {
		k, v, ok := strings.Cut(kv, "=")
		var err error
		switch {
		case !ok:
			err = errors.New("want KEY=VALUE")
		case k == "connect":
			connect, err = time.ParseDuration(v)
		case k == "read":
			read, err = time.ParseDuration(v)
		case k == "rewrite":
			r.rewrite = v
		default:
			err = errors.New("unknown key")
		}
		if err != nil {
			return nil, fmt.Errorf("route %q: %q: %v", s, kv, err)
		}
	}
	// One Transport per route: its timeouts are the route's.
	transport := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: connect}).DialContext,
		ResponseHeaderTimeout: read,
		MaxIdleConnsPerHost:   *keepalive,
		IdleConnTimeout:       *idleTimeout,
		DisableKeepAlives:     *keepalive == 0,
	}
	r.proxy = &httputil.ReverseProxy{
		Transport: transport,
		Director:  r.direct,
		ModifyResponse: func(res *http.Response) error {
			st := stateOf(res.Request.Context())
			st.mu.Lock()
			st.upstream = res.StatusCode
			st.mu.Unlock()
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
			st := stateOf(req.Context())
			st.mu.Lock()
			st.err = err
			st.mu.Unlock()
			code := http.StatusBadGateway
			if isTimeout(err) {
				code = http.StatusGatewayTimeout
			}
			w.WriteHeader(code)
		},
	}
	return r, nil
}

// direct picks the next backend in round robin and rewrites the path.
func (r *route) direct(req *http.Request) {
	be := r.backends[int(atomic.AddUint32(&r.next, 1)-1)%len(r.backends)]
	st := stateOf(req.Context())
	st.mu.Lock()
	st.backend = be
	st.mu.Unlock()
	req.URL.Scheme = "http"
	req.URL.Host = be
	if r.rewrite != "" {
		rest := strings.TrimPrefix(strings.TrimPrefix(req.URL.Path, strings.TrimSuffix(r.prefix, "/")), "/")
		req.URL.Path = strings.TrimSuffix(r.rewrite, "/") + "/" + rest
		req.URL.RawPath = ""
	}
}

// trace records the upstream attempts of one request.
func trace(st *reqState) *httptrace.ClientTrace {
	var connectStart time.Time
	return &httptrace.ClientTrace{
		GetConn: func(string) {
			st.mu.Lock()
			st.attempts++
			st.attemptStart = time.Now()
			st.mu.Unlock()
		},
		ConnectStart: func(_, _ string) {
			st.mu.Lock()
			connectStart = time.Now()
			st.attemptStart = connectStart
			st.mu.Unlock()
		},
		ConnectDone: func(_, _ string, err error) {
			st.mu.Lock()
			if err == nil {
				st.connectS = time.Since(connectStart).Seconds()
			}
			st.mu.Unlock()
		},
		GotConn: func(info httptrace.GotConnInfo) {
			st.mu.Lock()
			if info.Reused {
				st.attemptStart = time.Now()
				st.connectS = 0
			}
			st.mu.Unlock()
		},
		GotFirstResponseByte: func() {
			st.mu.Lock()
			st.headerS = time.Since(st.attemptStart).Seconds()
			st.mu.Unlock()
		},
	}
}

// statusWriter remembers the status the handler sent.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush keeps ReverseProxy's streaming working through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack lets ReverseProxy take the client connection over for a tunnel
// after the backend's 101 (an Upgrade); without it the proxy answers 502.
// ReverseProxy writes the 101 itself on the hijacked connection.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("the connection cannot be hijacked")
	}
	if w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return h.Hijack()
}

func main() {
	flag.Parse()
	if *listen == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: gs-goproxy [OPTIONS] -listen HOST:PORT[,...] ROUTE...")
		os.Exit(2)
	}
	var routes []*route
	for _, s := range flag.Args() {
		r, err := parseRoute(s)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gs-goproxy:", err)
			os.Exit(2)
		}
		routes = append(routes, r)
	}
	logw := os.Stderr
	if *accessLog != "" {
		f, err := os.OpenFile(*accessLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0644)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gs-goproxy:", err)
			os.Exit(1)
		}
		logw = f
	}
	var logMu sync.Mutex

	handler := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		st := &reqState{start: time.Now(), connectS: -1, headerS: -1}
		ctx := httptrace.WithClientTrace(context.WithValue(req.Context(), stateKey, st), trace(st))
		req = req.WithContext(ctx)
		sw := &statusWriter{ResponseWriter: w}
		// The log line is written also when ReverseProxy aborts the
		// handler (panic ErrAbortHandler: the body copy failed after the
		// head went out); the panic then goes on to net/http.
		defer func() {
			p := recover()
			st.mu.Lock()
			be, msg, up := st.backend, "-", "-"
			if be == "" {
				be = "-"
			}
			if st.err != nil {
				msg = st.err.Error()
			} else if p != nil {
				msg = fmt.Sprint("aborted: ", p)
			}
			if st.upstream != 0 {
				up = fmt.Sprint(st.upstream)
			}
			if sw.status == 0 {
				sw.status = http.StatusOK
			}
			line := fmt.Sprintf("%s %s %d %s %s %d %s %s %.3f %s\n", req.Method, req.URL.Path,
				sw.status, up, be, st.attempts, secs(st.connectS), secs(st.headerS),
				time.Since(st.start).Seconds(), strings.ReplaceAll(msg, "\n", " "))
			st.mu.Unlock()
			logMu.Lock()
			fmt.Fprint(logw, line)
			logMu.Unlock()
			if p != nil {
				panic(p)
			}
		}()
		for _, r := range routes {
			if under(req.URL.Path, r.prefix) {
				r.proxy.ServeHTTP(sw, req)
				return
			}
		}
		sw.WriteHeader(http.StatusNotFound)
	})

	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	var lns []net.Listener
	for _, a := range strings.Split(*listen, ",") {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gs-goproxy:", err)
			os.Exit(1)
		}
		lns = append(lns, ln)
	}
	for _, ln := range lns {
		go func(ln net.Listener) {
			err := srv.Serve(ln)
			fmt.Fprintln(os.Stderr, "gs-goproxy:", err)
			os.Exit(1)
		}(ln)
	}
	fmt.Println("ready")
	time.Sleep(time.Duration(*maxSeconds) * time.Second)
}
