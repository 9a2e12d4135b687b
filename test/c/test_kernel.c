/*
 * Tests the C door onto the network kernel and GenServers as a C user would
 * use it: two kernels in one process on 127.0.0.1, connected both ways,
 * calling each other's servers (blocking and with callbacks), casts,
 * deferred replies from another thread, errors, timeouts, stopping, and
 * every NULL argument.
 *
 *   test_kernel
 *
 * Compiles as C11 and as C++17 (the same file). Waits on a condition
 * variable with a deadline, never on fixed sleeps. Prints "N passed, M
 * failed" last; exits non-zero on a failure.
 */
#define _POSIX_C_SOURCE 200809L

#include "libnotp.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Generous: valgrind slows everything down. */
#define WAIT_MS 20000

#include "check.h"

/* ---- waiting for the engine threads --------------------------------------- */

/* Everything the callbacks record is guarded by `mu`; they broadcast `cv`
 * after each change. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_t main_thread;

/* Waits until *counter reaches `want`, for at most WAIT_MS. */
static bool wait_for(const int *counter, int want) {
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += WAIT_MS / 1000;
  pthread_mutex_lock(&mu);
  while (*counter < want) {
    if (pthread_cond_timedwait(&cv, &mu, &deadline) == ETIMEDOUT) break;
  }
  bool reached = *counter >= want;
  pthread_mutex_unlock(&mu);
  return reached;
}

/* ---- servers ------------------------------------------------------------ */

/* What a server's callbacks saw (the last message, and counts). */
typedef struct {
  notp_kernel_t *kernel; /* the kernel it runs on */
  const notp_node_t *peer;
  notp_server_t *self;   /* for the server that frees itself */
  int seen;              /* messages received */
  bool on_main_thread;   /* some callback ran on the main thread */
  bool has_tag, is_bytes;
  char sender[64], event[64], data[256];
  size_t nbytes;
  notp_status_t status[4]; /* what the callback's own libnotp calls answered */
  notp_reply_t *deferred;  /* an answer taken over, for the main thread */
} server_t;

/* Records the request's fields; called with `mu` held. */
static void note(server_t *s, const notp_request_t *req) {
  const char *text = NULL;
  s->seen++;
  if (pthread_equal(pthread_self(), main_thread)) s->on_main_thread = true;
  s->event[0] = s->sender[0] = s->data[0] = '\0';
  if (notp_request_event(req, &text) == NOTP_OK && text) snprintf(s->event, sizeof s->event, "%s", text);
  if (notp_request_sender(req, &text) == NOTP_OK) snprintf(s->sender, sizeof s->sender, "%s", text);
  if (notp_request_data_json(req, &text) == NOTP_OK) snprintf(s->data, sizeof s->data, "%s", text);
  notp_request_has_tag(req, &s->has_tag);
  notp_request_is_bytes(req, &s->is_bytes);
}

static void done(void) {
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
}

/* Answers with the data it got: bytes as bytes, JSON as JSON. */
static void echo_cb(void *user_data, const notp_request_t *req) {
  server_t *s = (server_t *)user_data;
  pthread_mutex_lock(&mu);
  note(s, req);
  const uint8_t *bytes = NULL;
  const char *json = NULL;
  if (s->is_bytes) {
    s->status[1] = notp_request_data_bytes(req, &bytes, &s->nbytes);
    s->status[0] = notp_request_reply_bytes(req, bytes, s->nbytes);
  } else {
    s->status[1] = notp_request_data_bytes(req, &bytes, &s->nbytes); /* NOT_FOUND */
    notp_request_data_json(req, &json);
    s->status[0] = notp_request_reply_json(req, json);
  }
  /* A second answer is refused. */
  s->status[2] = notp_request_reply_json(req, "\"twice\"");
  done();
}

/* Receives casts: nothing can be answered. */
static void inbox_cb(void *user_data, const notp_request_t *req) {
  server_t *s = (server_t *)user_data;
  notp_reply_t *reply = NULL;
  pthread_mutex_lock(&mu);
  note(s, req);
  s->status[0] = notp_request_reply_json(req, "1");
  s->status[1] = notp_request_defer(req, &reply);
  s->status[2] = notp_request_reply_error(req, "nope");
  s->status[3] = notp_request_reply_bytes(req, (const uint8_t *)"x", 1);
  done();
}

/* Takes the answer over and hands it to the main thread (or never sends
 * it). */
static void defer_cb(void *user_data, const notp_request_t *req) {
  server_t *s = (server_t *)user_data;
  pthread_mutex_lock(&mu);
  note(s, req);
  notp_reply_free(s->deferred); /* an earlier one, never sent */
  s->deferred = NULL;
  s->status[0] = notp_request_defer(req, &s->deferred);
  s->status[1] = notp_request_reply_json(req, "\"too late\"");
  done();
}

/* Answers with an error. */
static void fail_cb(void *user_data, const notp_request_t *req) {
  server_t *s = (server_t *)user_data;
  pthread_mutex_lock(&mu);
  note(s, req);
  s->status[0] = notp_request_reply_error(req, "no way");
  done();
}

/* Tries the blocking calls, which are refused on engine threads, then
 * answers with what they returned. */
static void blocker_cb(void *user_data, const notp_request_t *req) {
  server_t *s = (server_t *)user_data;
  char *reply = NULL;
  notp_kernel_t *k = NULL;
  notp_status_t call = notp_kernel_call_wait(s->kernel, s->peer, "echo", "e", "1", 100, &reply);
  notp_status_t connect = notp_kernel_connect_wait(s->kernel, s->peer, 100);
  notp_status_t start = notp_kernel_start("x", "127.0.0.1", 0, NULL, &k);
  notp_status_t raw = notp_kernel_call_raw_wait(s->kernel, s->peer, "echo", "1", 100, &reply);
  char answer[64];
  snprintf(answer, sizeof answer, "[%d,%d,%d,%d]", (int)call, (int)connect, (int)start, (int)raw);
  pthread_mutex_lock(&mu);
  note(s, req);
  s->status[0] = notp_request_reply_json(req, answer);
  done();
}

/* Unregisters itself, then answers: the next call finds no server. */
static void once_cb(void *user_data, const notp_request_t *req) {
  server_t *s = (server_t *)user_data;
  pthread_mutex_lock(&mu);
  note(s, req);
  notp_server_free(s->self);
  s->self = NULL;
  s->status[0] = notp_request_reply_json(req, "\"once\"");
  done();
}

/* A raw server: no event, the whole body as data. */
static void raw_cb(void *user_data, const notp_request_t *req) {
  server_t *s = (server_t *)user_data;
  const char *json = NULL;
  pthread_mutex_lock(&mu);
  note(s, req);
  notp_status_t event = notp_request_event(req, &json);
  s->status[1] = event == NOTP_OK && json == NULL ? NOTP_OK : NOTP_ERR_INVALID_ARGUMENT;
  notp_request_data_json(req, &json);
  bool tag = false;
  notp_request_has_tag(req, &tag);
  s->status[0] = tag ? notp_request_reply_json(req, json) : NOTP_OK;
  done();
}

/* ---- asynchronous calls ------------------------------------------------- */

typedef struct {
  int done; /* times the callback ran */
  notp_status_t status;
  char *reply, *message;
  bool on_main_thread;
} outcome_t;

static void on_reply(void *user_data, notp_status_t status, const char *reply,
                     const char *message) {
  outcome_t *o = (outcome_t *)user_data;
  pthread_mutex_lock(&mu);
  o->status = status;
  free(o->reply);
  free(o->message);
  o->reply = reply ? strdup(reply) : NULL;
  o->message = message ? strdup(message) : NULL;
  o->on_main_thread = pthread_equal(pthread_self(), main_thread);
  o->done++;
  done();
}

static void outcome_clear(outcome_t *o) {
  free(o->reply);
  free(o->message);
  memset(o, 0, sizeof *o);
}

/* ---- a thread that answers a deferred call ------------------------------ */

typedef struct {
  server_t *server;
  notp_status_t sent, again;
} answerer_t;

static void *answer_later(void *arg) {
  answerer_t *a = (answerer_t *)arg;
  if (!wait_for(&a->server->seen, 1)) return NULL;
  pthread_mutex_lock(&mu);
  notp_reply_t *reply = a->server->deferred;
  a->server->deferred = NULL;
  pthread_mutex_unlock(&mu);
  a->sent = notp_reply_send_json(reply, "{\"answered\":\"later\"}");
  a->again = notp_reply_send_json(reply, "\"again\"");
  notp_reply_free(reply);
  return NULL;
}

/* ---- the tests ---------------------------------------------------------- */

static notp_kernel_t *a, *b;
static const notp_node_t *node_a, *node_b;

static notp_kernel_t *start(const char *id, notp_kernel_options_t *opts) {
  notp_kernel_t *k = NULL;
  OK(notp_kernel_start(id, "127.0.0.1", 0, opts, &k));
  return k;
}

static void test_runtime_and_options(void) {
  OK(notp_runtime_init(2));
  OK(notp_runtime_init(0)); /* the default, which is 2 */
  FAILS(NOTP_ERR_INVALID_ARGUMENT, notp_runtime_init(3));

  notp_kernel_options_t opts = notp_kernel_options_default();
  check(opts.cookie == NULL && opts.retry_ms == 5000 && opts.max_retries == 0 &&
            opts.max_queue == 1024 && opts.mailbox == 65536 && opts.stream_timeout_ms == 30000,
        "notp_kernel_options_default()");

  /* Zeros take the defaults; a value that cannot work is refused by the
   * engine, which names the option. */
  notp_kernel_t *refused = NULL;
  opts = notp_kernel_options_default();
  opts.mailbox = SIZE_MAX;
  FAILS(NOTP_ERR_INVALID_ARGUMENT, notp_kernel_start("bad", "127.0.0.1", 0, &opts, &refused));
  check(strstr(notp_last_error(), "`mailbox`") != NULL, "the refusal names the option: %s",
        notp_last_error());
  opts = notp_kernel_options_default();
  opts.max_frame = 16;
  FAILS(NOTP_ERR_INVALID_ARGUMENT, notp_kernel_start("bad", "127.0.0.1", 0, &opts, &refused));
  check(strstr(notp_last_error(), "`max_frame`") != NULL, "the refusal names the option: %s",
        notp_last_error());
  check(refused == NULL, "a refused start leaves *out alone");
}

static void test_start_and_connect(void) {
  notp_kernel_options_t opts = notp_kernel_options_default();
  opts.cookie = "cookie";
  opts.retry_ms = 50;
  a = start("node_a", &opts);
  b = start("node_b", &opts);
  if (!a || !b) exit(1);
  OK(notp_kernel_node(a, &node_a));
  OK(notp_kernel_node(b, &node_b));
  uint16_t port_a = 0, port_b = 0, node_port = 0;
  OK(notp_kernel_port(a, &port_a));
  OK(notp_kernel_port(b, &port_b));
  OK(notp_node_port(node_a, &node_port));
  check(port_a != 0 && port_b != 0 && port_a != port_b && node_port == port_a,
        "port 0 picks free ports (%u, %u), and the node tells the real one", port_a, port_b);
  char *id = NULL;
  OK(notp_node_id(node_b, &id));
  same_text(id, "node_b", "kernel node id");

  /* The port is taken now. */
  notp_kernel_t *clash = NULL;
  FAILS(NOTP_ERR_NETWORK, notp_kernel_start("clash", "127.0.0.1", port_a, NULL, &clash));
  check(clash == NULL, "a failed start leaves *out alone");

  bool connected = true;
  OK(notp_kernel_is_connected(a, node_b, &connected));
  check(!connected, "not connected before connecting");
  OK(notp_kernel_connect_wait(a, node_b, WAIT_MS));
  OK(notp_kernel_connect(b, node_a)); /* non-blocking... */
  OK(notp_kernel_connect_wait(b, node_a, WAIT_MS)); /* ...and waiting for it */
  OK(notp_kernel_is_connected(a, node_b, &connected));
  check(connected, "connected after connect_wait");
  OK(notp_kernel_is_connected(a, node_a, &connected));
  check(connected, "a kernel is always connected to itself");
  OK(notp_kernel_connect_wait(a, node_a, 10)); /* to itself: nothing to do */

  /* Nobody listens on port 1: a short wait times out; a kernel that gives up
   * after two retries says so. */
  notp_node_t *nowhere = NULL;
  OK(notp_node_new("nowhere", "127.0.0.1", 1, &nowhere));
  FAILS(NOTP_ERR_TIMEOUT, notp_kernel_connect_wait(a, nowhere, 100));
  OK(notp_kernel_disconnect(a, nowhere, true));
  notp_kernel_options_t quitter_opts;
  memset(&quitter_opts, 0, sizeof quitter_opts); /* zeros: the defaults... */
  quitter_opts.retry_ms = 10;                    /* ...but these */
  quitter_opts.max_retries = 2;
  notp_kernel_t *quitter = start("quitter", &quitter_opts);
  FAILS(NOTP_ERR_NETWORK, notp_kernel_connect_wait(quitter, nowhere, WAIT_MS));
  notp_kernel_free(quitter);
  notp_node_free(nowhere);
}

static server_t echo_a, echo_b, inbox, silent, later, failing, blocker, once, raw;
static notp_server_t *echo_a_srv, *echo_b_srv, *inbox_srv, *silent_srv, *later_srv, *fail_srv,
    *blocker_srv, *raw_srv;

static void test_register(void) {
  echo_a.kernel = a;
  echo_b.kernel = b;
  blocker.kernel = b;
  blocker.peer = node_a;
  OK(notp_kernel_register(a, "echo", echo_cb, &echo_a, &echo_a_srv));
  OK(notp_kernel_register(b, "echo", echo_cb, &echo_b, &echo_b_srv));
  OK(notp_kernel_register(b, "inbox", inbox_cb, &inbox, &inbox_srv));
  OK(notp_kernel_register(b, "silent", defer_cb, &silent, &silent_srv));
  OK(notp_kernel_register(b, "later", defer_cb, &later, &later_srv));
  OK(notp_kernel_register(b, "fail", fail_cb, &failing, &fail_srv));
  OK(notp_kernel_register(b, "blocker", blocker_cb, &blocker, &blocker_srv));
  OK(notp_kernel_register(b, "once", once_cb, &once, &once.self));
  OK(notp_kernel_register_raw(b, "raw", raw_cb, &raw, &raw_srv));
  notp_server_t *dup = NULL;
  FAILS(NOTP_ERR_NAME_TAKEN, notp_kernel_register(b, "echo", echo_cb, NULL, &dup));
  check(dup == NULL, "a refused registration leaves *out alone");
}

static void test_blocking_calls(void) {
  char *reply = NULL;
  const char *tricky = "{\"s\":\"h\\u00e9llo \\\"q\\\"\",\"n\":[1,0.5,-3],\"k\":{\"b\":1,\"a\":[]}}";
  OK(notp_kernel_call_wait(a, node_b, "echo", "echo", tricky, WAIT_MS, &reply));
  same_text(reply, "{\"s\":\"héllo \\\"q\\\"\",\"n\":[1,0.5,-3],\"k\":{\"b\":1,\"a\":[]}}",
            "a -> b echo");
  pthread_mutex_lock(&mu);
  check(echo_b.seen == 1 && strcmp(echo_b.event, "echo") == 0 &&
            strcmp(echo_b.sender, "node_a") == 0 && echo_b.has_tag && !echo_b.is_bytes,
        "b's echo saw event \"%s\" from \"%s\"", echo_b.event, echo_b.sender);
  check(echo_b.status[0] == NOTP_OK, "b's echo replied (%d)", (int)echo_b.status[0]);
  check(echo_b.status[1] == NOTP_ERR_NOT_FOUND, "JSON data has no bytes (%d)",
        (int)echo_b.status[1]);
  check(echo_b.status[2] == NOTP_ERR_INVALID_ARGUMENT, "a second reply is refused (%d)",
        (int)echo_b.status[2]);
  check(!echo_b.on_main_thread, "callbacks run on engine threads");
  pthread_mutex_unlock(&mu);

  OK(notp_kernel_call_wait(b, node_a, "echo", "echo", "[\"back\"]", WAIT_MS, &reply));
  same_text(reply, "[\"back\"]", "b -> a echo");

  /* A call to the kernel's own node stays local. */
  OK(notp_kernel_call_wait(a, node_a, "echo", "echo", "42", WAIT_MS, &reply));
  same_text(reply, "42", "a -> a echo");

  /* Buffers cross as bytes and come back as the Buffer JSON form. */
  const char *buffer = "{\"type\":\"Buffer\",\"data\":[0,1,2,255]}";
  OK(notp_kernel_call_wait(a, node_b, "echo", "echo", buffer, WAIT_MS, &reply));
  same_text(reply, buffer, "bytes echo");
  pthread_mutex_lock(&mu);
  check(echo_b.is_bytes && echo_b.nbytes == 4 && echo_b.status[1] == NOTP_OK,
        "b's echo got 4 bytes (%zu)", echo_b.nbytes);
  pthread_mutex_unlock(&mu);

  /* Raw servers get the whole body. */
  OK(notp_kernel_call_raw_wait(a, node_b, "raw", "{\"whole\":\"body\"}", WAIT_MS, &reply));
  same_text(reply, "{\"whole\":\"body\"}", "raw call");
  check(raw.status[1] == NOTP_OK, "a raw request has no event");
  OK(notp_kernel_cast_raw(a, node_b, "raw", "[1,2]"));
  if (check(wait_for(&raw.seen, 2), "the raw cast arrives")) {
    pthread_mutex_lock(&mu);
    check(strcmp(raw.data, "[1,2]") == 0 && !raw.has_tag, "raw cast data %s", raw.data);
    pthread_mutex_unlock(&mu);
  }
}

static void test_async_calls(void) {
  outcome_t o;
  memset(&o, 0, sizeof o);
  OK(notp_kernel_call(a, node_b, "echo", "echo", "{\"async\":true}", WAIT_MS, on_reply, &o));
  if (check(wait_for(&o.done, 1), "the async call completes")) {
    check(o.status == NOTP_OK && o.reply && strcmp(o.reply, "{\"async\":true}") == 0 &&
              o.message == NULL,
          "async reply %d %s", (int)o.status, o.reply ? o.reply : "(null)");
    check(!o.on_main_thread, "the reply callback runs on an engine thread");
  }
  outcome_clear(&o);

  OK(notp_kernel_call(b, node_a, "echo", "echo", "null", 0, on_reply, &o));
  if (check(wait_for(&o.done, 1), "the async call back completes"))
    check(o.status == NOTP_OK && o.reply && strcmp(o.reply, "null") == 0, "async reply back");
  outcome_clear(&o);

  /* Errors reach the callback too: an unknown server... */
  OK(notp_kernel_call(a, node_b, "nobody", "x", "1", WAIT_MS, on_reply, &o));
  if (check(wait_for(&o.done, 1), "the call to nobody completes"))
    check(o.status == NOTP_ERR_REMOTE && o.message && strstr(o.message, "nobody") &&
              o.reply && strstr(o.reply, "\"_error\":true"),
          "unknown server: %d %s / %s", (int)o.status, o.message ? o.message : "(null)",
          o.reply ? o.reply : "(null)");
  outcome_clear(&o);

  /* ...and a node never connected. */
  notp_node_t *stranger = NULL;
  OK(notp_node_new("stranger", "127.0.0.1", 1, &stranger));
  OK(notp_kernel_call(a, stranger, "echo", "x", "1", WAIT_MS, on_reply, &o));
  if (check(wait_for(&o.done, 1), "the call to a stranger completes"))
    check(o.status == NOTP_ERR_UNKNOWN_NODE && o.reply == NULL && o.message &&
              strstr(o.message, "stranger"),
          "unknown node: %d", (int)o.status);
  outcome_clear(&o);
  char *reply = NULL;
  FAILS(NOTP_ERR_UNKNOWN_NODE,
        notp_kernel_call_wait(a, stranger, "echo", "x", "1", WAIT_MS, &reply));
  notp_node_free(stranger);

  /* Raw async. */
  OK(notp_kernel_call_raw(a, node_b, "raw", "\"r\"", WAIT_MS, on_reply, &o));
  if (check(wait_for(&o.done, 1), "the raw async call completes"))
    check(o.status == NOTP_OK && o.reply && strcmp(o.reply, "\"r\"") == 0, "raw async reply");
  outcome_clear(&o);

  /* Bad JSON is refused at once, and the callback never runs. */
  FAILS(NOTP_ERR_JSON, notp_kernel_call(a, node_b, "echo", "x", "{oops", 0, on_reply, &o));
  FAILS(NOTP_ERR_JSON, notp_kernel_call_wait(a, node_b, "echo", "x", "", 0, &reply));
  FAILS(NOTP_ERR_JSON, notp_kernel_cast(a, node_b, "echo", "x", "[1,"));
  check(reply == NULL && o.done == 0, "refused calls run nothing");
}

static void test_streams(void) {
  outcome_t o;
  memset(&o, 0, sizeof o);
  /* A GenServer body in chunks: the server gets it whole. */
  notp_stream_t *body = NULL;
  OK(notp_kernel_call_stream(a, node_b, "echo", WAIT_MS, on_reply, &o, &body));
  const char *one = "{\"event\":\"echo\",", *two = "\"data\":{\"streamed\":\"in C\"}}";
  OK(notp_stream_write(body, (const uint8_t *)one, strlen(one)));
  OK(notp_stream_write(body, (const uint8_t *)two, strlen(two)));
  size_t queued = 1234;
  OK(notp_stream_queued(body, &queued));
  check(queued < 1234, "queued bytes are reported (%zu)", queued);
  OK(notp_stream_end(body));
  FAILS(NOTP_ERR_INVALID_ARGUMENT, notp_stream_write(body, (const uint8_t *)"x", 1));
  FAILS(NOTP_ERR_INVALID_ARGUMENT, notp_stream_end(body));
  notp_stream_free(body);
  if (check(wait_for(&o.done, 1), "the streamed call completes"))
    check(o.status == NOTP_OK && o.reply && strcmp(o.reply, "{\"streamed\":\"in C\"}") == 0,
          "streamed reply %d %s", (int)o.status, o.reply ? o.reply : "(null)");
  outcome_clear(&o);

  /* Freed before its end: the call fails at once, not at its timeout. */
  body = NULL;
  OK(notp_kernel_call_stream(a, node_b, "echo", WAIT_MS, on_reply, &o, &body));
  OK(notp_stream_write(body, (const uint8_t *)one, strlen(one)));
  notp_stream_free(body);
  if (check(wait_for(&o.done, 1), "the abandoned stream's call completes"))
    check(o.status == NOTP_ERR_REMOTE && o.message && strstr(o.message, "Stream aborted"),
          "abandoned stream: %d %s", (int)o.status, o.message ? o.message : "(null)");
  outcome_clear(&o);

  /* No connection, no stream. */
  notp_node_t *stranger = NULL;
  OK(notp_node_new("stranger", "127.0.0.1", 1, &stranger));
  body = NULL;
  FAILS(NOTP_ERR_UNKNOWN_NODE, notp_kernel_cast_stream(a, stranger, "echo", &body));
  check(body == NULL, "no stream handed out");
  notp_node_free(stranger);
  /* A streamed cast is delivered whole too. */
  OK(notp_kernel_cast_stream(a, node_b, "echo", &body));
  OK(notp_stream_write(body, (const uint8_t *)one, strlen(one)));
  OK(notp_stream_fail(body, "changed my mind"));
  notp_stream_free(body);
  notp_stream_free(NULL);
}

static void test_errors_and_casts(void) {
  char *reply = NULL;
  FAILS(NOTP_ERR_REMOTE, notp_kernel_call_wait(a, node_b, "nobody", "x", "1", WAIT_MS, &reply));
  const char *message = notp_last_error();
  check(strstr(message, "nobody") != NULL && strstr(message, "node_b") != NULL,
        "the message names the server and the node: %s", message);
  char *skipped = NULL;
  OK(notp_kernel_skipped_json(b, &skipped));
  check(skipped && strstr(skipped, "\"UNKNOWN_TARGET\":2"), "b counted its drops: %s",
        skipped ? skipped : "(null)");
  notp_string_free(skipped);

  /* A server's own error. */
  FAILS(NOTP_ERR_REMOTE, notp_kernel_call_wait(a, node_b, "fail", "x", "1", WAIT_MS, &reply));
  check(strcmp(notp_last_error(), "no way") == 0, "error reply message: %s", notp_last_error());

  /* A cast is delivered, and cannot be answered. */
  OK(notp_kernel_cast(a, node_b, "inbox", "note", "{\"n\":1}"));
  if (check(wait_for(&inbox.seen, 1), "the cast arrives")) {
    pthread_mutex_lock(&mu);
    check(strcmp(inbox.event, "note") == 0 && strcmp(inbox.data, "{\"n\":1}") == 0 &&
              !inbox.has_tag && strcmp(inbox.sender, "node_a") == 0,
          "cast %s %s from %s", inbox.event, inbox.data, inbox.sender);
    for (int i = 0; i < 4; i++)
      check(inbox.status[i] == NOTP_ERR_NO_TAG, "answering a cast (%d) is NOTP_ERR_NO_TAG: %d",
            i, (int)inbox.status[i]);
    pthread_mutex_unlock(&mu);
  }

  /* Blocking calls are refused inside callbacks. */
  OK(notp_kernel_call_wait(a, node_b, "blocker", "x", "null", WAIT_MS, &reply));
  char want[64];
  snprintf(want, sizeof want, "[%d,%d,%d,%d]", (int)NOTP_ERR_WRONG_THREAD,
           (int)NOTP_ERR_WRONG_THREAD, (int)NOTP_ERR_WRONG_THREAD, (int)NOTP_ERR_WRONG_THREAD);
  same_text(reply, want, "blocking calls inside a callback");

  /* A server that frees itself from its callback. */
  OK(notp_kernel_call_wait(a, node_b, "once", "x", "null", WAIT_MS, &reply));
  same_text(reply, "\"once\"", "the self-freeing server answers");
  FAILS(NOTP_ERR_REMOTE, notp_kernel_call_wait(a, node_b, "once", "x", "null", WAIT_MS, &reply));
  check(once.seen == 1 && once.self == NULL, "and is gone");
}

static void test_deferred(void) {
  char *reply = NULL;
  /* Deferred and never answered: the caller's timeout. */
  FAILS(NOTP_ERR_TIMEOUT, notp_kernel_call_wait(a, node_b, "silent", "x", "1", 100, &reply));
  check(reply == NULL, "a timed-out call leaves *reply_json alone");
  pthread_mutex_lock(&mu);
  check(silent.status[0] == NOTP_OK && silent.deferred != NULL, "silent deferred");
  check(silent.status[1] == NOTP_ERR_INVALID_ARGUMENT, "a deferred request cannot be answered");
  pthread_mutex_unlock(&mu);
  /* Answering after the caller gave up is harmless. */
  pthread_mutex_lock(&mu);
  notp_reply_t *late = silent.deferred;
  silent.deferred = NULL;
  pthread_mutex_unlock(&mu);
  OK(notp_reply_send_json(late, "\"nobody waits\""));
  notp_reply_free(late);

  /* Deferred and answered from another thread. */
  answerer_t answerer;
  memset(&answerer, 0, sizeof answerer);
  answerer.server = &later;
  pthread_t thread;
  check(pthread_create(&thread, NULL, answer_later, &answerer) == 0, "pthread_create");
  OK(notp_kernel_call_wait(a, node_b, "later", "x", "1", WAIT_MS, &reply));
  pthread_join(thread, NULL);
  same_text(reply, "{\"answered\":\"later\"}", "an answer sent from another thread");
  check(answerer.sent == NOTP_OK && answerer.again == NOTP_ERR_INVALID_ARGUMENT,
        "a reply is sent once (%d, %d)", (int)answerer.sent, (int)answerer.again);
}

static void test_null_arguments(void) {
  notp_kernel_t *k = NULL;
  notp_server_t *srv = NULL;
  notp_reply_t *rep = NULL;
  const notp_node_t *node = NULL;
  const char *text = NULL;
  char *owned = NULL;
  const uint8_t *bytes = NULL;
  size_t len = 0;
  uint16_t port = 0;
  bool flag = false;
  outcome_t o;
  memset(&o, 0, sizeof o);

  NULL_ARG(notp_kernel_start(NULL, "127.0.0.1", 0, NULL, &k));
  NULL_ARG(notp_kernel_start("x", NULL, 0, NULL, &k));
  NULL_ARG(notp_kernel_start("x", "127.0.0.1", 0, NULL, NULL));
  NULL_ARG(notp_kernel_stop(NULL));
  NULL_ARG(notp_kernel_node(NULL, &node));
  NULL_ARG(notp_kernel_node(a, NULL));
  NULL_ARG(notp_kernel_port(NULL, &port));
  NULL_ARG(notp_kernel_port(a, NULL));
  NULL_ARG(notp_kernel_connect(NULL, node_b));
  NULL_ARG(notp_kernel_connect(a, NULL));
  NULL_ARG(notp_kernel_connect_wait(NULL, node_b, 1));
  NULL_ARG(notp_kernel_connect_wait(a, NULL, 1));
  NULL_ARG(notp_kernel_disconnect(NULL, node_b, false));
  NULL_ARG(notp_kernel_disconnect(a, NULL, false));
  NULL_ARG(notp_kernel_is_connected(NULL, node_b, &flag));
  NULL_ARG(notp_kernel_is_connected(a, NULL, &flag));
  NULL_ARG(notp_kernel_is_connected(a, node_b, NULL));
  NULL_ARG(notp_kernel_skipped_json(NULL, &owned));
  NULL_ARG(notp_kernel_skipped_json(a, NULL));

  NULL_ARG(notp_kernel_register(NULL, "n", echo_cb, NULL, &srv));
  NULL_ARG(notp_kernel_register(a, NULL, echo_cb, NULL, &srv));
  NULL_ARG(notp_kernel_register(a, "n", NULL, NULL, &srv));
  NULL_ARG(notp_kernel_register(a, "n", echo_cb, NULL, NULL));
  NULL_ARG(notp_kernel_register_raw(NULL, "n", echo_cb, NULL, &srv));
  NULL_ARG(notp_kernel_register_raw(a, "n", NULL, NULL, &srv));

  NULL_ARG(notp_request_server(NULL, &text));
  NULL_ARG(notp_request_event(NULL, &text));
  NULL_ARG(notp_request_data_json(NULL, &text));
  NULL_ARG(notp_request_is_bytes(NULL, &flag));
  NULL_ARG(notp_request_data_bytes(NULL, &bytes, &len));
  NULL_ARG(notp_request_sender(NULL, &text));
  NULL_ARG(notp_request_has_tag(NULL, &flag));
  NULL_ARG(notp_request_reply_json(NULL, "1"));
  NULL_ARG(notp_request_reply_bytes(NULL, bytes, 0));
  NULL_ARG(notp_request_reply_error(NULL, "e"));
  NULL_ARG(notp_request_defer(NULL, &rep));
  NULL_ARG(notp_reply_send_json(NULL, "1"));
  NULL_ARG(notp_reply_send_bytes(NULL, (const uint8_t *)"x", 1));
  NULL_ARG(notp_reply_send_error(NULL, "e"));

  NULL_ARG(notp_kernel_call(NULL, node_b, "s", "e", "1", 0, on_reply, &o));
  NULL_ARG(notp_kernel_call(a, NULL, "s", "e", "1", 0, on_reply, &o));
  NULL_ARG(notp_kernel_call(a, node_b, NULL, "e", "1", 0, on_reply, &o));
  NULL_ARG(notp_kernel_call(a, node_b, "s", NULL, "1", 0, on_reply, &o));
  NULL_ARG(notp_kernel_call(a, node_b, "s", "e", NULL, 0, on_reply, &o));
  NULL_ARG(notp_kernel_call(a, node_b, "s", "e", "1", 0, NULL, &o));
  NULL_ARG(notp_kernel_call_wait(NULL, node_b, "s", "e", "1", 0, &owned));
  NULL_ARG(notp_kernel_call_wait(a, node_b, "s", "e", "1", 0, NULL));
  NULL_ARG(notp_kernel_call_wait(a, node_b, "s", NULL, "1", 0, &owned));
  NULL_ARG(notp_kernel_cast(NULL, node_b, "s", "e", "1"));
  NULL_ARG(notp_kernel_cast(a, node_b, "s", "e", NULL));
  NULL_ARG(notp_kernel_call_raw(a, node_b, "s", NULL, 0, on_reply, &o));
  NULL_ARG(notp_kernel_call_raw(a, node_b, "s", "1", 0, NULL, &o));
  NULL_ARG(notp_kernel_call_raw_wait(a, NULL, "s", "1", 0, &owned));
  NULL_ARG(notp_kernel_call_raw_wait(a, node_b, "s", "1", 0, NULL));
  NULL_ARG(notp_kernel_cast_raw(a, node_b, NULL, "1"));
  check(k == NULL && srv == NULL && rep == NULL && owned == NULL && o.done == 0,
        "refused calls touch no out-parameter and run no callback");

  /* Bad UTF-8 is refused too. */
  FAILS(NOTP_ERR_UTF8, notp_kernel_register(a, "\xff", echo_cb, NULL, &srv));

  notp_kernel_free(NULL);
  notp_server_free(NULL);
  notp_reply_free(NULL);
}

static void test_stop(void) {
  /* A call waiting without a timeout is failed by stop. */
  outcome_t o;
  memset(&o, 0, sizeof o);
  int asked = silent.seen + 1;
  OK(notp_kernel_call(a, node_b, "silent", "x", "1", 0, on_reply, &o));
  check(wait_for(&silent.seen, asked), "the silent server got the call");
  OK(notp_kernel_stop(a));
  if (check(wait_for(&o.done, 1), "stop completes the waiting call"))
    check(o.status == NOTP_ERR_STOPPED && o.message != NULL, "stopped call: %d", (int)o.status);
  outcome_clear(&o);
  OK(notp_kernel_stop(a)); /* twice is harmless */

  char *reply = NULL;
  notp_server_t *srv = NULL;
  FAILS(NOTP_ERR_STOPPED, notp_kernel_call_wait(a, node_b, "echo", "x", "1", WAIT_MS, &reply));
  OK(notp_kernel_call(a, node_b, "echo", "x", "1", WAIT_MS, on_reply, &o));
  if (check(wait_for(&o.done, 1), "a call on a stopped kernel completes"))
    check(o.status == NOTP_ERR_STOPPED, "async call on a stopped kernel: %d", (int)o.status);
  outcome_clear(&o);
  FAILS(NOTP_ERR_STOPPED, notp_kernel_cast(a, node_b, "echo", "x", "1"));
  FAILS(NOTP_ERR_STOPPED, notp_kernel_register(a, "new", echo_cb, NULL, &srv));
  FAILS(NOTP_ERR_STOPPED, notp_kernel_connect(a, node_b));

  /* b lost its peer: a disconnected node is unknown again. */
  OK(notp_kernel_disconnect(b, node_a, false));
  bool connected = true;
  OK(notp_kernel_is_connected(b, node_a, &connected));
  check(!connected, "disconnected");
  FAILS(NOTP_ERR_UNKNOWN_NODE,
        notp_kernel_call_wait(b, node_a, "echo", "x", "1", WAIT_MS, &reply));
}

int main(void) {
  main_thread = pthread_self();
  test_runtime_and_options();
  test_start_and_connect();
  test_register();
  test_blocking_calls();
  test_async_calls();
  test_streams();
  test_errors_and_casts();
  test_deferred();
  test_null_arguments();
  test_stop();

  notp_server_free(echo_a_srv);
  notp_server_free(echo_b_srv);
  notp_server_free(inbox_srv);
  notp_server_free(silent_srv);
  notp_server_free(later_srv);
  notp_server_free(fail_srv);
  notp_server_free(blocker_srv);
  notp_server_free(raw_srv);
  notp_server_free(once.self); /* NULL: it freed itself */
  notp_reply_free(silent.deferred);
  notp_reply_free(later.deferred);
  notp_kernel_free(a);
  notp_kernel_free(b);

  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
