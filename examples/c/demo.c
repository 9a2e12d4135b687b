/*
 * A first look at libnotp from C: two cluster nodes in one process form a
 * ring by gossip (alice meets bob), alice calls a server on bob, and the
 * ring they share says who owns which key.
 *
 * Build and run (after `cargo build --release -p notp`):
 *
 *   gcc -std=c11 -I include examples/c/demo.c -L target/release -lnotp -o demo
 *   LD_LIBRARY_PATH=target/release ./demo
 */
#define _POSIX_C_SOURCE 200809L

#include "libnotp.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Stops the demo with libnotp's own explanation when a call fails. */
#define TRY(call)                                                              \
  do {                                                                         \
    if ((call) != NOTP_OK) {                                                   \
      fprintf(stderr, "%s failed: %s\n", #call, notp_last_error());            \
      return 1;                                                                \
    }                                                                          \
  } while (0)

/* The "greeter" server. It runs on one of libnotp's engine threads, once per
 * message; `req` is only valid until it returns. */
static void greet(void *user_data, const notp_request_t *req) {
  (void)user_data;
  const char *event = NULL, *name = NULL;
  notp_request_event(req, &event);    /* "hello" */
  notp_request_data_json(req, &name); /* the data as JSON text: "\"Ada\"" */
  char answer[128];
  snprintf(answer, sizeof answer, "{\"greeting\":\"%s to you\",\"name\":%s}", event, name);
  notp_request_reply_json(req, answer);
}

/* A node's view of the ring, updated by its ring-change callback. */
typedef struct {
  const char *name;
  atomic_size_t nodes;
} view_t;

/* Runs on an engine thread whenever a node's ring changes; both rings are
 * lent for the call only. */
static void ring_changed(void *user_data, const notp_chash_t *old_ring,
                         const notp_chash_t *new_ring) {
  view_t *view = (view_t *)user_data;
  size_t before = 0, after = 0;
  notp_chash_number_nodes(old_ring, &before);
  notp_chash_number_nodes(new_ring, &after);
  if (before != after) printf("[%s] ring changed: %zu -> %zu nodes\n", view->name, before, after);
  atomic_store(&view->nodes, after);
}

/* Waits (at most 10 s) until both nodes see a ring of `want` nodes. */
static int wait_for_ring(view_t *a, view_t *b, size_t want) {
  const struct timespec tick = {0, 10 * 1000 * 1000};
  for (int i = 0; i < 1000; i++) {
    if (atomic_load(&a->nodes) == want && atomic_load(&b->nodes) == want) return 0;
    nanosleep(&tick, NULL);
  }
  fprintf(stderr, "the ring did not converge\n");
  return 1;
}

int main(void) {
  /* Two nodes of ring "demo" on the loopback interface. Port 0 picks a
   * free port; both sign their messages with the same cookie and gossip
   * every 100 ms (the default is 1 s). */
  notp_cluster_options_t opts = notp_cluster_options_default();
  opts.interval_ms = 100;
  opts.kernel.retry_ms = 100;
  notp_cluster_t *alice = NULL, *bob = NULL;
  TRY(notp_cluster_start("alice", "127.0.0.1", 0, "demo cookie", "demo", &opts, &alice));
  TRY(notp_cluster_start("bob", "127.0.0.1", 0, "demo cookie", "demo", &opts, &bob));

  /* Watch the rings: each node starts alone in its own. */
  static view_t alice_view = {"alice", 1}, bob_view = {"bob", 1};
  TRY(notp_cluster_on_ring_change(alice, ring_changed, &alice_view));
  TRY(notp_cluster_on_ring_change(bob, ring_changed, &bob_view));

  /* Alice meets Bob: their rings merge and both hold both nodes. */
  const notp_node_t *bob_node = NULL;
  TRY(notp_cluster_node(bob, &bob_node));
  TRY(notp_cluster_meet(alice, bob_node));
  if (wait_for_ring(&alice_view, &bob_view, 2)) return 1;

  /* Each node lends its kernel: Bob runs a server on his, Alice calls it
   * from hers (gossip already connected them) and waits 5 s at most. */
  const notp_kernel_t *alice_kernel = NULL, *bob_kernel = NULL;
  TRY(notp_cluster_kernel(alice, &alice_kernel));
  TRY(notp_cluster_kernel(bob, &bob_kernel));
  notp_server_t *greeter = NULL;
  TRY(notp_kernel_register(bob_kernel, "greeter", greet, NULL, &greeter));
  char *reply = NULL;
  TRY(notp_kernel_call_wait(alice_kernel, bob_node, "greeter", "hello", "\"Ada\"", 5000,
                            &reply));
  printf("bob answered: %s\n", reply);
  notp_string_free(reply);

  /* The shared ring (3 virtual nodes each) says who owns a key: the owner
   * and its successor hold it. */
  const char *keys[] = {"apple", "banana", "cherry", "damson"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    notp_node_list_t *holders = NULL;
    const notp_node_t *owner = NULL;
    char *id = NULL;
    TRY(notp_cluster_find(alice, (const uint8_t *)keys[i], strlen(keys[i]), 0, &holders));
    TRY(notp_node_list_get(holders, 0, &owner));
    TRY(notp_node_id(owner, &id));
    printf("%-7s -> %s\n", keys[i], id);
    notp_string_free(id);
    notp_node_list_free(holders);
  }
  char *json = NULL;
  TRY(notp_cluster_ring_json(bob, &json));
  printf("ring: %s\n", json);
  notp_string_free(json);

  /* No more news wanted: unregister Bob's callback (stopping a node
   * unregisters its own). Everything made has a _free; freeing a cluster
   * node stops it, and it leaves the ring first. */
  TRY(notp_cluster_on_ring_change(bob, NULL, NULL));
  notp_cluster_free(alice);
  notp_cluster_free(bob);
  notp_server_free(greeter);
  return 0;
}
