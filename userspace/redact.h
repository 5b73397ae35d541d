/* SPDX-License-Identifier: MIT */
/* Credential masking for --record files: a recording must be safe to attach
 * to a ticket.  In every captured HTTP buffer, the values of credential
 * headers (Authorization, Cookie, Set-Cookie, X-Api-Key, any name containing
 * "auth", "cookie", "token", "secret", "passw", "api-key", "apikey",
 * "session", "signature" or "credential") and the values of query and
 * matrix (";name=value") parameters of request targets are overwritten
 * with '*'.  The length never changes, so a replay frames and parses the
 * recording exactly as the live run did.
 *
 * A header can be split over several writes: the scanner state is kept per
 * connection and direction (a fixed table, no allocation per event) and
 * carried into the next buffer when it continues the previous one byte for
 * byte.  A buffer whose context is unknown and which does not start a head
 * gets its first partial line masked, unless that line is a chunk-size line
 * the parser may need. */
#ifndef GS_REDACT_H
#define GS_REDACT_H

#include <stdint.h>
#include "http.h"

struct redactor;

struct redactor *redactor_new(void);
void redactor_free(struct redactor *r);
/* Mask e->data[0..cap_len) in place; an HTTP/2 capture (GS_HTTP_F_H2) loses
 * its bytes (cap_len and size shrink to the header): the recorder passes
 * those through h2_record.h instead. */
void redact_http(struct redactor *r, struct gs_http_event *e);
/* Mask credentials in one buffer that starts at a line start (tests, fuzzing). */
void redact_buffer(uint8_t *p, size_t n);
/* Mask a credential header's value as in an HTTP/1 head (blanks kept),
 * so that a request masked in either form hashes the same. */
void redact_value(uint8_t *p, size_t n);
/* Mask the query and matrix parameter values of a request target (an
 * HTTP/2 :path), and anything after a blank or line end in it. */
void redact_target(uint8_t *p, size_t n);
/* Is a header with this name (any case) credential-bearing? */
bool redact_secret_header(const char *name, size_t n);

#endif
