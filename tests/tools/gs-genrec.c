// SPDX-License-Identifier: MIT
/* gs-genrec: write a synthetic --record file of many HTTP connections, for
 * scale figures of the replay path (tools/bench, section scale).
 *
 *   gs-genrec open N FILE    N client connections, each one request head
 *                            read by the gateway, never answered or closed
 *                            (the HTTP connection table fills, then evicts)
 *   gs-genrec pairs N FILE   N exchanges: a client connection and an
 *                            upstream connection each, all opened first,
 *                            then answered and closed (peak, then freed)
 *   gs-genrec closes N FILE  N idle upstream connections (no HTTP) closed
 *                            one after the other, 1 us apart: a burst of
 *                            close events, as when a pool goes away
 *   gs-genrec keepalive N FILE  N exchanges one after the other over 16
 *                            client and 8 upstream keep-alive connections
 *                            (the steady state of a loaded gateway: four
 *                            heads per request, routes of 3 methods, 4
 *                            hosts and 64 paths), then every connection closed
 *   gs-genrec direct N FILE  as keepalive, but every other request is
 *                            answered by the gateway itself (health checks,
 *                            static routes: no upstream attempt)
 *   gs-genrec burst N FILE   N exchanges in waves of 32 in flight at once,
 *                            all for one path, over 32 client and 32
 *                            upstream keep-alive connections (wrk -c32
 *                            through a gateway: each request's candidates
 *                            are the whole wave, told apart by time only)
 *
 * Timestamps advance 1 us per event from 1,000 s.  Exit 0, or 1 with a
 * message when the file cannot be written, 2 on bad usage. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conn.h"
#include "http.h"
#include "tool.h"

#define REC_MAGIC	"GSREC\0\0\1"
#define REC_VERSION	2
#define US		1000ull

const char *tool_name = "gs-genrec";
static uint64_t now = 1000ull * 1000 * 1000 * 1000;
static struct gs_http_event ev;

struct rec_header {
	char magic[8];
	uint32_t version;
	uint32_t header_size;
	int64_t wall_offset_ns;
};

static void put(FILE *f, const void *p, size_t n)
{
	if (fwrite(p, 1, n, f) != n) {
		perror("gs-genrec: write");
		exit(1);
	}
}

/* One captured buffer: dir/io say which stream it belongs to. */
static void http(FILE *f, uint64_t sk, uint8_t dir, uint8_t io, uint64_t off, const char *text,
		 uint16_t dport)
{
	size_t n = strlen(text);

	memset(&ev, 0, GS_HTTP_HDR_SIZE);
	ev.type = GS_EV_HTTP;
	ev.size = GS_HTTP_HDR_SIZE + n;
	ev.sk = sk;
	ev.ts = now += US;
	ev.stream_off = off;
	ev.ts_conn_start = ev.ts_established = now - 100 * US;
	ev.pid = ev.tid = 4242;
	ev.len = ev.cap_len = n;
	ev.family = 2;
	ev.sport = dir == GS_DIR_DOWNSTREAM ? 8080 : 30000 + sk % 30000;
	ev.dport = dport;
	ev.io_dir = io;
	ev.conn_dir = dir;
	memcpy(ev.saddr, "\x7f\0\0\1", 4);
	memcpy(ev.daddr, "\x7f\0\0\1", 4);
	memcpy(ev.comm, "nginx", 6);
	memcpy(ev.data, text, n);
	put(f, &ev, ev.size);
}

static void conn_close(FILE *f, uint64_t sk, uint8_t dir, uint64_t sent, uint64_t rcvd)
{
	struct gs_conn_event c = { .type = GS_EV_CONN, .size = sizeof(c), .sk = sk,
				   .pid = 4242, .tid = 4242, .family = 2, .direction = dir,
				   .flags = GS_CONN_F_ESTABLISHED, .fin_by = GS_FIN_LOCAL,
				   .close_state = 4 /* FIN_WAIT1 */ };

	c.ts_start = now - 1000 * US;
	c.ts_established = c.ts_start + 10 * US;
	c.ts_fin = c.ts_close = now += US;
	c.bytes_sent = c.app_tx_bytes = sent;
	c.bytes_received = c.app_rx_bytes = rcvd;
	c.sport = dir == GS_DIR_DOWNSTREAM ? 8080 : 30000 + sk % 30000;
	c.dport = dir == GS_DIR_DOWNSTREAM ? 40000 + sk % 20000 : 9000;
	memcpy(c.saddr, "\x7f\0\0\1", 4);
	memcpy(c.daddr, "\x7f\0\0\1", 4);
	memcpy(c.comm, "nginx", 6);
	put(f, &c, sizeof(c));
}

#define KA_CLIENTS	16
#define KA_UPSTREAMS	8

/* keepalive mode: sk 1..16 are client connections, 17..24 upstream ones;
 * direct: the odd requests answered by the gateway itself. */
static void keepalive(FILE *f, unsigned n, bool direct)
{
	static const char *const methods[] = { "GET", "POST", "PUT" };
	static const char *const hosts[] = { "api", "shop.example", "auth.example", "static" };
	const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	uint64_t down_rx[KA_CLIENTS] = { 0 }, down_tx[KA_CLIENTS] = { 0 };
	uint64_t up_rx[KA_UPSTREAMS] = { 0 }, up_tx[KA_UPSTREAMS] = { 0 };
	char req[256];

	for (unsigned i = 0; i < n; i++) {
		unsigned c = i % KA_CLIENTS, u = i % KA_UPSTREAMS;
		uint64_t csk = (uint64_t)(c + 1) << 6, usk = (uint64_t)(KA_CLIENTS + u + 1) << 6;
		int len = snprintf(req, sizeof(req), "%s /v1/items/%u?page=%u HTTP/1.1\r\nHost: %s\r\n\r\n",
				   methods[i % 3], i % 64, i % 7, hosts[i % 4]);

		http(f, csk, GS_DIR_DOWNSTREAM, GS_IO_RECV, down_rx[c], req, 40000 + c);
		down_rx[c] += len;
		if (direct && i % 2) {
			http(f, csk, GS_DIR_DOWNSTREAM, GS_IO_SEND, down_tx[c], resp, 40000 + c);
			down_tx[c] += strlen(resp);
			continue;
		}
		http(f, usk, GS_DIR_UPSTREAM, GS_IO_SEND, up_tx[u], req, 9000);
		up_tx[u] += len;
		http(f, usk, GS_DIR_UPSTREAM, GS_IO_RECV, up_rx[u], resp, 9000);
		up_rx[u] += strlen(resp);
		http(f, csk, GS_DIR_DOWNSTREAM, GS_IO_SEND, down_tx[c], resp, 40000 + c);
		down_tx[c] += strlen(resp);
	}
	for (unsigned u = 0; u < KA_UPSTREAMS; u++)
		conn_close(f, (uint64_t)(KA_CLIENTS + u + 1) << 6, GS_DIR_UPSTREAM, up_tx[u], up_rx[u]);
	for (unsigned c = 0; c < KA_CLIENTS; c++)
		conn_close(f, (uint64_t)(c + 1) << 6, GS_DIR_DOWNSTREAM, down_tx[c], down_rx[c]);
}

#define BURST_WAVE	32

/* burst mode: sk 1..32 are client connections, 33..64 upstream ones; a
 * wave's requests are read, sent upstream, answered upstream and answered
 * to their clients, each step for the whole wave before the next. */
static void burst(FILE *f, unsigned n)
{
	const char *req = "GET /v1/items HTTP/1.1\r\nHost: api\r\n\r\n";
	const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	uint64_t rq = strlen(req), rs = strlen(resp);

	for (unsigned w = 0; w * BURST_WAVE < n; w++) {
		unsigned k = n - w * BURST_WAVE < BURST_WAVE ? n - w * BURST_WAVE : BURST_WAVE;

		for (unsigned c = 0; c < k; c++)
			http(f, (uint64_t)(c + 1) << 6, GS_DIR_DOWNSTREAM, GS_IO_RECV, w * rq, req,
			     40000 + c);
		now += 100 * US;	/* upstream connections (events say: 100 us old) after */
		for (unsigned c = 0; c < k; c++)
			http(f, (uint64_t)(BURST_WAVE + c + 1) << 6, GS_DIR_UPSTREAM, GS_IO_SEND,
			     w * rq, req, 9000);
		for (unsigned c = 0; c < k; c++)
			http(f, (uint64_t)(BURST_WAVE + c + 1) << 6, GS_DIR_UPSTREAM, GS_IO_RECV,
			     w * rs, resp, 9000);
		for (unsigned c = 0; c < k; c++)
			http(f, (uint64_t)(c + 1) << 6, GS_DIR_DOWNSTREAM, GS_IO_SEND, w * rs, resp,
			     40000 + c);
	}
	for (unsigned c = 0; c < BURST_WAVE && c < n; c++) {
		uint64_t waves = (n - c + BURST_WAVE - 1) / BURST_WAVE;

		conn_close(f, (uint64_t)(BURST_WAVE + c + 1) << 6, GS_DIR_UPSTREAM, waves * rq,
			   waves * rs);
		conn_close(f, (uint64_t)(c + 1) << 6, GS_DIR_DOWNSTREAM, waves * rs, waves * rq);
	}
}

int main(int argc, char **argv)
{
	struct rec_header h = { .version = REC_VERSION, .header_size = sizeof(h),
				.wall_offset_ns = 1700000000ll * 1000000000ll };
	const char *req = "GET /items/1 HTTP/1.1\r\nHost: api\r\n\r\n";
	const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	unsigned n;
	FILE *f;

	if (argc != 4 || (strcmp(argv[1], "open") && strcmp(argv[1], "pairs") &&
			  strcmp(argv[1], "closes") && strcmp(argv[1], "keepalive") &&
			  strcmp(argv[1], "direct") && strcmp(argv[1], "burst"))) {
		fprintf(stderr, "usage: gs-genrec open|pairs|closes|keepalive|direct|burst N FILE\n");
		return 2;
	}
	n = tool_uint(argv[2], 10000000);
	if (!(f = fopen(argv[3], "wb"))) {
		perror(argv[3]);
		return 1;
	}
	memcpy(h.magic, REC_MAGIC, sizeof(h.magic));
	put(f, &h, sizeof(h));
	if (!strcmp(argv[1], "keepalive") || !strcmp(argv[1], "direct"))
		keepalive(f, n, !strcmp(argv[1], "direct"));
	if (!strcmp(argv[1], "burst"))
		burst(f, n);
	/* Client connections are 1..n, upstream ones n+1..2n (x64: sk-like). */
	for (uint64_t i = 1; i <= n && !strcmp(argv[1], "closes"); i++)
		conn_close(f, (n + i) << 6, GS_DIR_UPSTREAM, 0, 0);
	for (uint64_t i = 1; i <= n && (!strcmp(argv[1], "open") || !strcmp(argv[1], "pairs")); i++) {
		http(f, i << 6, GS_DIR_DOWNSTREAM, GS_IO_RECV, 0, req, 40000 + i % 20000);
		if (!strcmp(argv[1], "pairs"))
			http(f, (n + i) << 6, GS_DIR_UPSTREAM, GS_IO_SEND, 0, req, 9000);
	}
	for (uint64_t i = 1; i <= n && !strcmp(argv[1], "pairs"); i++) {
		http(f, (n + i) << 6, GS_DIR_UPSTREAM, GS_IO_RECV, 0, resp, 9000);
		conn_close(f, (n + i) << 6, GS_DIR_UPSTREAM, strlen(req), strlen(resp));
		http(f, i << 6, GS_DIR_DOWNSTREAM, GS_IO_SEND, 0, resp, 40000 + i % 20000);
		conn_close(f, i << 6, GS_DIR_DOWNSTREAM, strlen(resp), strlen(req));
	}
	if (fclose(f)) {
		perror(argv[3]);
		return 1;
	}
	return 0;
}
