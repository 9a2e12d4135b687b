/*
 * A first look at libnotp from C: two nodes in one process, one calls a
 * server on the other, then both are placed on a consistent hash ring.
 *
 * Build and run (after `cargo build --release -p notp`):
 *
 *   gcc -std=c11 -I include examples/c/demo.c -L target/release -lnotp -o demo
 *   LD_LIBRARY_PATH=target/release ./demo
 */
#include "libnotp.h"

#include <stdio.h>
#include <string.h>

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

int main(void) {
  /* Two kernels (nodes) on the loopback interface. Port 0 picks a free
   * port; both sign their messages with the same cookie. */
  notp_kernel_options_t opts = notp_kernel_options_default();
  opts.cookie = "demo cookie";
  opts.retry_ms = 100;
  notp_kernel_t *alice = NULL, *bob = NULL;
  TRY(notp_kernel_start("alice", "127.0.0.1", 0, &opts, &alice));
  TRY(notp_kernel_start("bob", "127.0.0.1", 0, &opts, &bob));

  /* Each kernel lends its own node: id, host and the port it got. */
  const notp_node_t *alice_node = NULL, *bob_node = NULL;
  TRY(notp_kernel_node(alice, &alice_node));
  TRY(notp_kernel_node(bob, &bob_node));

  /* Messages travel on outbound connections: connect both ways, so that a
   * call can go out and its answer come back. */
  TRY(notp_kernel_connect_wait(alice, bob_node, 5000));
  TRY(notp_kernel_connect_wait(bob, alice_node, 5000));

  /* Bob runs a server; Alice calls it and waits (5 s at most). */
  notp_server_t *greeter = NULL;
  TRY(notp_kernel_register(bob, "greeter", greet, NULL, &greeter));
  char *reply = NULL;
  TRY(notp_kernel_call_wait(alice, bob_node, "greeter", "hello", "\"Ada\"", 5000, &reply));
  printf("bob answered: %s\n", reply);
  notp_string_free(reply);

  /* A ring with both nodes (3 virtual nodes each) says who owns a key. */
  notp_chash_t *ring = NULL;
  TRY(notp_chash_new(3, 2, &ring));
  TRY(notp_chash_insert(ring, alice_node, 0)); /* 0: the ring's default weight */
  TRY(notp_chash_insert(ring, bob_node, 0));
  const char *keys[] = {"apple", "banana", "cherry", "damson"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    const notp_node_t *owner = NULL;
    char *id = NULL;
    TRY(notp_chash_find(ring, (const uint8_t *)keys[i], strlen(keys[i]), &owner));
    TRY(notp_node_id(owner, &id));
    printf("%-7s -> %s\n", keys[i], id);
    notp_string_free(id);
  }
  char *json = NULL;
  TRY(notp_chash_to_json(ring, &json));
  printf("ring: %s\n", json);
  notp_string_free(json);

  /* Everything made has a _free; freeing a kernel stops it. */
  notp_chash_free(ring);
  notp_server_free(greeter);
  notp_kernel_free(alice);
  notp_kernel_free(bob);
  return 0;
}
