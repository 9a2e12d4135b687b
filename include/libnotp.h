/*
 * libnotp: the C door onto the notp engine (consistent hash ring, vector
 * clocks, the network kernel, GenServers and gossiping cluster nodes),
 * wire-compatible with the JavaScript notp 2.0.1.
 *
 * Conventions
 * -----------
 * Status: every function that can fail returns a notp_status_t (NOTP_OK is
 *   0) and leaves a readable message behind for notp_last_error(). On
 *   failure, out-parameters are left untouched.
 * NULL: no pointer argument may be NULL (the _free functions excepted, which
 *   accept NULL and do nothing; so are `user_data`, the options of
 *   notp_kernel_start() and notp_cluster_start(), their cookie and flush
 *   path, where NULL is documented). A NULL
 *   argument is refused with NOTP_ERR_NULL_ARGUMENT; it never crashes. A
 *   pointer that is not NULL must point to what the parameter says: a live
 *   handle from this library, a NUL-terminated UTF-8 string, `len` readable
 *   bytes, a writable out slot.
 * Strings: input strings are NUL-terminated UTF-8; hash ring keys are bytes,
 *   given as pointer + length. JSON goes in and out as UTF-8 JSON text.
 * Ownership: a `notp_xxx_t **out` parameter hands you a handle you own and
 *   release with the matching notp_xxx_free(); a `char **out` parameter hands
 *   you a string you release with notp_string_free(). Only those are
 *   freed: what comes `const` is lent, and the _free functions take no
 *   `const` pointer (do not cast one away to free it).
 * Borrowing: a `const notp_node_t **out` parameter lends you a node that
 *   stays owned by its container. A node borrowed from a ring dies at the
 *   ring's next mutation or free; one borrowed from a list or an iterator
 *   lives as long as that list or iterator; a kernel's own node lives as
 *   long as the kernel; a cluster node's own node and kernel as long as
 *   the cluster node (never free a lent kernel). What a request lends
 *   (`const char **out`, bytes) lives as long as the request: until its
 *   callback returns.
 * Panics: an internal panic never crosses into C; it surfaces as
 *   NOTP_ERR_PANIC, after which the handles involved should only be freed.
 *
 * Threads
 * -------
 * Values (nodes, rings, iterators, lists, clocks) have no internal locking:
 *   such a handle may be used by one thread at a time; distinct handles may
 *   be used from different threads concurrently. notp_last_error() is per
 *   thread. Borrowed pointers follow the rules above whatever the thread.
 * Engine threads: kernels do their I/O on one multi-threaded runtime per
 *   process, started on first use with 2 worker threads (call
 *   notp_runtime_init() before anything else to choose another count) and
 *   never shut down. A kernel or a cluster node may be used by many
 *   threads at once; notp_kernel_free() / notp_cluster_free() must be its
 *   last use. Servers and deferred replies are used by one thread at a
 *   time, any thread.
 * Callbacks (notp_message_cb, notp_reply_cb and the ring callbacks
 *   notp_ring_change_cb, _leave_cb, _conflict_cb, _send_cb, _close_cb) run
 *   on engine threads, never on the thread that registered the server or
 *   callback or made the call. One server's callback runs for one message
 *   at a time, in arrival order; one cluster node's ring callbacks run one
 *   at a time, in the order of its ring's events; other servers' and
 *   nodes' callbacks and call completions may run at the same time on
 *   other engine threads. Keep callbacks short:
 *   while one runs it holds an engine thread. To answer after doing slow
 *   work, take the answer with notp_request_defer() and send it from your
 *   own thread.
 * Inside a callback every libnotp function may be called except the ones
 *   that block: notp_kernel_start(), notp_cluster_start(),
 *   notp_kernel_connect_wait(), notp_kernel_call_wait() and
 *   notp_kernel_call_raw_wait() answer NOTP_ERR_WRONG_THREAD there. The
 *   cluster changes (meet, insert, leave, ...) do not block and are
 *   allowed, as are notp_kernel_stop() and notp_kernel_free().
 *   notp_server_free() is allowed on the callback's own server; on another
 *   server it waits for that server's running callback, so servers must not
 *   free each other from their callbacks. Likewise notp_cluster_stop(),
 *   notp_cluster_free() and the notp_cluster_on_*() registrations are
 *   allowed inside the node's own ring callbacks; on another node they wait
 *   for that node's running ring callback, so nodes must not stop each
 *   other from their ring callbacks.
 * Lifetimes: a notp_request_t, and everything it lends, is valid only until
 *   the callback that received it returns; the strings given to a
 *   notp_reply_cb, and the rings and clocks given to the ring callbacks,
 *   likewise. Copy what you keep. `user_data` is passed back untouched
 *   (libnotp never reads or frees it): what it points to
 *   must stay valid until the callback's last run (a server's: until
 *   notp_server_free() returns; a call's: its one run; a ring callback's:
 *   until it is replaced or unregistered, or notp_cluster_stop() returns)
 *   and be safe to use from an engine thread while your own threads run.
 */


#ifndef LIBNOTP_H
#define LIBNOTP_H

/* Generated by cbindgen from bindings/c (see its build.rs); do not edit by hand. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NOTP_VERSION_MAJOR 0
#define NOTP_VERSION_MINOR 1
#define NOTP_VERSION_PATCH 0

// A cluster member: id, host and port.
typedef struct notp_node_t notp_node_t;

// A consistent hash ring, placement-identical to notp 2.0.1.
typedef struct notp_chash_t notp_chash_t;

// A cursor over a ring's virtual nodes in key order. It reads a snapshot:
// the ring may change or be freed while the cursor lives.
typedef struct notp_ring_iter_t notp_ring_iter_t;

// The nodes a ring query answers, in order; it owns copies of them.
typedef struct notp_node_list_t notp_node_list_t;

// A vector clock: actor id -> {count, insert, time}.
typedef struct notp_vclock_t notp_vclock_t;

// A started network kernel: one node of the cluster, listening for its
// peers, with an outbound connection to each peer it connected to.
typedef struct notp_kernel_t notp_kernel_t;

// A server (a GenServer, or a raw one) registered on a kernel.
typedef struct notp_server_t notp_server_t;

// One message received by a server, lent to its callback.
typedef struct notp_request_t notp_request_t;

// The answer to a call, taken over with notp_request_defer() and sent later
// from any thread.
typedef struct notp_reply_t notp_reply_t;

// A streamed body being sent (notp_kernel_call_stream(),
// notp_kernel_cast_stream()): chunks go out as they are written.
typedef struct notp_stream_t notp_stream_t;

// A started cluster node: a kernel (lent by notp_cluster_kernel()), its
// gossip ring, and the command server the CLI talks to.
typedef struct notp_cluster_t notp_cluster_t;


// What a libnotp call reports. NOTP_OK is 0; every other value comes with
// a message from notp_last_error().
typedef enum {
  // Success.
  NOTP_OK = 0,
  // A pointer argument was NULL.
  NOTP_ERR_NULL_ARGUMENT = 1,
  // An argument was out of range (a zero weight, an index past the end...).
  NOTP_ERR_INVALID_ARGUMENT = 2,
  // A string argument was not valid UTF-8.
  NOTP_ERR_UTF8 = 3,
  // Malformed JSON text, or JSON that is not a valid node, ring or clock.
  NOTP_ERR_JSON = 4,
  // The node, actor or position asked for is not there.
  NOTP_ERR_NOT_FOUND = 5,
  // libnotp panicked; the handles involved should only be freed.
  NOTP_ERR_PANIC = 6,
  // A call got no reply, or a connection was not made, in time.
  NOTP_ERR_TIMEOUT = 7,
  // The node called has no connection from this kernel (connect first).
  NOTP_ERR_UNKNOWN_NODE = 8,
  // The remote side answered a call with an error (unknown server, a
  // full mailbox, or a server's own error reply).
  NOTP_ERR_REMOTE = 9,
  // The network refused: a port that cannot be bound, a peer given up
  // on, a reply from the wrong node, too many calls awaiting replies.
  NOTP_ERR_NETWORK = 10,
  // A server of that name is already registered on this kernel.
  NOTP_ERR_NAME_TAKEN = 11,
  // The request is a cast (it carries no reply tag), so it cannot be
  // answered.
  NOTP_ERR_NO_TAG = 12,
  // The kernel is stopped.
  NOTP_ERR_STOPPED = 13,
  // A blocking call was made on an engine thread (inside a callback),
  // where it could deadlock the engine.
  NOTP_ERR_WRONG_THREAD = 14,
} notp_status_t;

// When and how far notp_vclock_trim() cuts (times in microseconds). Start
// from notp_trim_options_default().
typedef struct {
  // Trim only clocks with more entries than this (default 10).
  uint64_t lower_bound;
  // Trim only when the oldest entry is older than this (default 20 s).
  uint64_t young_bound;
  // Remove oldest entries while more than this many remain (default 50)...
  uint64_t upper_bound;
  // ...or while the oldest is older than this (default 1 day).
  uint64_t old_bound;
} notp_trim_options_t;

// One actor's state in a clock; times are microseconds since the Unix
// epoch.
typedef struct {
  // How many events the actor has counted.
  uint64_t count;
  // When the actor entered the clock.
  uint64_t insert;
  // When the actor last changed.
  uint64_t time;
} notp_clock_entry_t;

// How a kernel connects, signs and bounds itself. Start from
// notp_kernel_options_default(), or from all zeros: every numeric field
// set to 0 takes its default. Other values pass to the engine as they are;
// one that cannot work (see each field) makes the start fail with
// NOTP_ERR_INVALID_ARGUMENT, the message naming the option.
typedef struct {
  // Shared secret signing every message (NUL-terminated UTF-8); NULL or
  // "" signs nothing and accepts everything. Copied by
  // notp_kernel_start(), so it need not outlive that call.
  const char *cookie;
  // Wait between reconnection attempts, in milliseconds (default 5000).
  uint32_t retry_ms;
  // Give a peer up after this many failed connection attempts in a row;
  // 0 never gives up (the default, as the original).
  uint32_t max_retries;
  // Frames queued per peer while its connection is down (default 1024);
  // when full, the oldest is dropped.
  size_t max_queue;
  // Bytes a connected peer's writer may fall behind by (default 64 MiB).
  size_t max_queue_bytes;
  // Largest frame accepted (default 16 MiB); a larger one closes the
  // connection it came on. At least 256.
  size_t max_frame;
  // Bytes of partly received streamed bodies held per connection
  // (default 64 MiB).
  size_t max_stream_bytes;
  // Accepted connections open at once (default 1024); at most
  // SIZE_MAX / 8.
  size_t max_inbound;
  // Calls awaiting replies at once (default 65536); more fail at once.
  size_t max_pending;
  // Messages waiting in one server's mailbox (default 65536); at most
  // SIZE_MAX / 8.
  size_t mailbox;
  // A streamed body not finished within this many milliseconds is
  // dropped (default 30000).
  uint32_t stream_timeout_ms;
} notp_kernel_options_t;

// Runs on an engine thread for each message a server receives. `request`
// is lent for the duration of the call only.
typedef void (*notp_message_cb)(void *user_data, const notp_request_t *request);

// Runs once on an engine thread when a call ends. On NOTP_OK `reply_json`
// is the answer as JSON text and `error_message` is NULL; otherwise
// `error_message` says why, and `reply_json` is NULL except for
// NOTP_ERR_REMOTE, where it is the remote error object
// (`{"message":...,"_error":true,...}`). Both strings are lent for the
// duration of the call only.
typedef void (*notp_reply_cb)(void *user_data,
                              notp_status_t status,
                              const char *reply_json,
                              const char *error_message);

// Runs on an engine thread when the membership of the node's ring changes
// (the original's `process(oldRing, newRing)` event): nodes joined, left
// or changed weight, by a local call or by gossip. Both rings are lent for
// the duration of the call only (notp_chash_clone() keeps one).
typedef void (*notp_ring_change_cb)(void *user_data,
                                    const notp_chash_t *old_ring,
                                    const notp_chash_t *new_ring);

// Runs on an engine thread when the node leaves its ring (the original's
// `leave(ring)` event): `ring` is the ring it told the others, without
// itself, lent for the duration of the call only.
typedef void (*notp_ring_leave_cb)(void *user_data, const notp_chash_t *ring);

// Runs on an engine thread when a ring received from another node was
// concurrent with this node's (the original's `conflict(ring, clock)`
// event): the received ring and clock, lent for the duration of the call
// only. The two rings are reconciled; a ring-change callback follows if
// the membership changed.
typedef void (*notp_ring_conflict_cb)(void *user_data,
                                      const notp_chash_t *ring,
                                      const notp_vclock_t *clock);

// Runs on an engine thread for every gossip message the node sends (the
// original's `send(clock, "ring", ring)` event): the clock and ring sent,
// lent for the duration of the call only. Every period sends some.
typedef void (*notp_ring_send_cb)(void *user_data,
                                  const notp_vclock_t *clock,
                                  const notp_chash_t *ring);

// Runs on an engine thread once the node is out of any ring (the
// original's `close` event), after the leave callback.
typedef void (*notp_ring_close_cb)(void *user_data);

// How many of a node's ring events its callbacks did not get one by one
// (notp_cluster_event_counts()): they fell behind by more than
// `opts->event_backlog` events.
typedef struct {
  // Ring changes merged into the one before them.
  uint64_t coalesced;
  // Send events dropped.
  uint64_t dropped_sends;
  // Conflict events dropped.
  uint64_t dropped_conflicts;
  // Leave events dropped.
  uint64_t dropped_leaves;
  // Close events dropped.
  uint64_t dropped_closes;
} notp_ring_event_counts_t;

// How a cluster node connects, gossips and persists. Start from
// notp_cluster_options_default(), or from all zeros: every numeric field
// set to 0 takes its default. Other values pass to the engine as they are;
// one that cannot work makes the start fail with
// NOTP_ERR_INVALID_ARGUMENT, the message naming the option.
typedef struct {
  // The kernel's options, as for notp_kernel_start(), except that
  // `kernel.cookie` must be NULL: the cookie is notp_cluster_start()'s
  // own argument.
  notp_kernel_options_t kernel;
  // Virtual nodes per node inserted without a weight (default 3).
  uint32_t rfactor;
  // Neighbours notp_cluster_find() and notp_cluster_range() add to a
  // key's owner when no size is given (default 2).
  uint32_t pfactor;
  // Gossip period in milliseconds: every period the node sends its ring
  // to two members and retries unfinished meets (default 1000).
  uint32_t interval_ms;
  // Period of writes to `flush_path`, in milliseconds (default 1000).
  uint32_t flush_interval_ms;
  // File the node's ring and clock are saved to (NUL-terminated UTF-8),
  // and loaded from at start; NULL keeps them in memory only (the
  // default). Copied by notp_cluster_start().
  const char *flush_path;
  // How the ring's clock is trimmed on every period; each field 0 takes
  // its default (see notp_trim_options_default()).
  notp_trim_options_t trim;
  // Periods during which an unanswered meet is retried (default 30).
  uint32_t meet_retries;
  // Periods a removed node is remembered, so that gossip still holding
  // it does not bring it back (default 600).
  uint32_t tombstone_polls;
  // Ring events waiting for this node's callbacks (default 1024): past
  // that, ring changes collapse into one and other events are dropped
  // (see notp_cluster_on_ring_change()).
  size_t event_backlog;
} notp_cluster_options_t;

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

// The library version as "major.minor.patch" (a static string; do not free).
const char *notp_version(void);

// The message left by the last failed call on this thread, or "" after a
// successful one. Valid until the next libnotp call on this thread; do not
// free.
const char *notp_last_error(void);

// Releases a string returned through a `char **out` parameter. NULL is
// ignored.
void notp_string_free(char *text);

// Creates a node. Release it with notp_node_free().
notp_status_t notp_node_new(const char *id, const char *host, uint16_t port, notp_node_t **out);

// Parses a node from its JSON text `{"id":...,"host":...,"port":...}`.
// NOTP_ERR_JSON when the text is not JSON or not a node.
notp_status_t notp_node_from_json(const char *json, notp_node_t **out);

// The node's JSON text, `{"id":...,"host":...,"port":...}` in that order.
// Release it with notp_string_free().
notp_status_t notp_node_to_json(const notp_node_t *node, char **out);

// A copy of the node that you own (for instance of one borrowed from a
// ring). Release it with notp_node_free().
notp_status_t notp_node_clone(const notp_node_t *node, notp_node_t **out);

// Releases a node you own (never one borrowed from a ring, list or
// iterator). NULL is ignored.
void notp_node_free(notp_node_t *node);

// A copy of the node's id. Release it with notp_string_free().
notp_status_t notp_node_id(const notp_node_t *node, char **out);

// A copy of the node's host. Release it with notp_string_free().
notp_status_t notp_node_host(const notp_node_t *node, char **out);

// The node's port.
notp_status_t notp_node_port(const notp_node_t *node, uint16_t *out);

// Whether two nodes have the same id, host and port.
notp_status_t notp_node_equals(const notp_node_t *a, const notp_node_t *b, bool *out);

// Creates an empty ring: `rfactor` virtual nodes per inserted node by
// default, `pfactor` neighbours for next/prev by default (the original's
// defaults are 3 and 2). Release it with notp_chash_free().
notp_status_t notp_chash_new(uint32_t rfactor, uint32_t pfactor, notp_chash_t **out);

// Parses a ring from its JSON text `{"rfactor","pfactor","tree":[...]}`.
// NOTP_ERR_JSON when the text is not JSON or not a well-formed ring.
notp_status_t notp_chash_from_json(const char *json, notp_chash_t **out);

// The ring's JSON text, byte-identical to the original's
// `JSON.stringify(ring.toJSON(true))`. Release it with notp_string_free().
notp_status_t notp_chash_to_json(const notp_chash_t *ring, char **out);

// An independent copy of the ring. Release it with notp_chash_free().
notp_status_t notp_chash_clone(const notp_chash_t *ring, notp_chash_t **out);

// Releases a ring; nodes it lent die with it. NULL is ignored.
void notp_chash_free(notp_chash_t *ring);

// The default number of virtual nodes per inserted node.
notp_status_t notp_chash_rfactor(const notp_chash_t *ring, uint32_t *out);

// Sets the default number of virtual nodes for later inserts.
notp_status_t notp_chash_set_rfactor(notp_chash_t *ring, uint32_t rfactor);

// The default number of neighbours notp_chash_next()/prev() return.
notp_status_t notp_chash_pfactor(const notp_chash_t *ring, uint32_t *out);

// Sets the default number of neighbours.
notp_status_t notp_chash_set_pfactor(notp_chash_t *ring, uint32_t pfactor);

// Number of virtual nodes.
notp_status_t notp_chash_size(const notp_chash_t *ring, size_t *out);

// Number of distinct nodes.
notp_status_t notp_chash_number_nodes(const notp_chash_t *ring, size_t *out);

// Node id -> weight as JSON text `{"id":weight,...}`, in the original's
// order (insertion order; an updated node moves to the end). Release it
// with notp_string_free().
notp_status_t notp_chash_weights(const notp_chash_t *ring, char **out);

// The weight (number of virtual nodes) of the node with this id.
// NOTP_ERR_NOT_FOUND when the ring has no such node.
notp_status_t notp_chash_weight(const notp_chash_t *ring, const char *id, uint32_t *out);

// Whether a node with this id is in the ring.
notp_status_t notp_chash_is_defined(const notp_chash_t *ring, const char *id, bool *out);

// Inserts a copy of `node` with `weight` virtual nodes (0: the ring's
// rfactor). A node whose id is already present is left as it is.
notp_status_t notp_chash_insert(notp_chash_t *ring, const notp_node_t *node, uint32_t weight);

// Re-inserts a copy of `node` with a new weight (must be positive); it
// moves to the end of notp_chash_weights().
notp_status_t notp_chash_update(notp_chash_t *ring, const notp_node_t *node, uint32_t weight);

// Removes every virtual node of the node with `node`'s id (absent: no
// change).
notp_status_t notp_chash_remove(notp_chash_t *ring, const notp_node_t *node);

// Removes every virtual node of the node with this id (absent: no change).
notp_status_t notp_chash_remove_id(notp_chash_t *ring, const char *id);

// Adds every virtual node of `other` that `ring` lacks (set union).
notp_status_t notp_chash_merge(notp_chash_t *ring, const notp_chash_t *other);

// Keeps only the virtual nodes present in both rings, taking `other`'s
// node values (set intersection).
notp_status_t notp_chash_intersect(notp_chash_t *ring, const notp_chash_t *other);

// Whether both rings have the same virtual nodes pointing at equal nodes
// (rfactor and pfactor are not compared).
notp_status_t notp_chash_equals(const notp_chash_t *a, const notp_chash_t *b, bool *out);

// Lends the node stored under this id, valid until the ring next changes.
// NOTP_ERR_NOT_FOUND when the ring has no such node.
notp_status_t notp_chash_get(const notp_chash_t *ring, const char *id, const notp_node_t **out);

// Lends the node that owns `key` (`key_len` bytes), valid until the ring
// next changes. Does not allocate. NOTP_ERR_NOT_FOUND on an empty ring.
notp_status_t notp_chash_find(const notp_chash_t *ring,
                              const uint8_t *key,
                              size_t key_len,
                              const notp_node_t **out);

// Up to `range` distinct nodes (0 or negative: pfactor + 1), starting with
// the owner of `key` and going clockwise. Release the list with
// notp_node_list_free().
notp_status_t notp_chash_range_next(const notp_chash_t *ring,
                                    const uint8_t *key,
                                    size_t key_len,
                                    int64_t range,
                                    notp_node_list_t **out);

// Up to `range` distinct nodes (0 or negative: pfactor + 1), starting with
// the last virtual node before `key` and going counter-clockwise. Release
// the list with notp_node_list_free().
notp_status_t notp_chash_range_prev(const notp_chash_t *ring,
                                    const uint8_t *key,
                                    size_t key_len,
                                    int64_t range,
                                    notp_node_list_t **out);

// The `range` (0 or negative: pfactor) distinct nodes after `node`,
// clockwise, excluding `node` itself; empty when `node` is not in the ring
// or is alone. Release the list with notp_node_list_free().
notp_status_t notp_chash_next(const notp_chash_t *ring,
                              const notp_node_t *node,
                              int64_t range,
                              notp_node_list_t **out);

// Like notp_chash_next(), counter-clockwise.
notp_status_t notp_chash_prev(const notp_chash_t *ring,
                              const notp_node_t *node,
                              int64_t range,
                              notp_node_list_t **out);

// The distinct nodes in the original's order (first seen walking the
// ring; ids that look like array indices first). Release the list with
// notp_node_list_free().
notp_status_t notp_chash_nodes(const notp_chash_t *ring, notp_node_list_t **out);

// The ring position of `len` bytes: base64(sha256(data)), 44 characters.
// Release it with notp_string_free().
notp_status_t notp_hash_key(const uint8_t *data, size_t len, char **out);

// The ring position of virtual node `n` (from 1) of node `id`:
// base64(sha256(id + "_" + n)). Release it with notp_string_free().
notp_status_t notp_vnode_key(const char *id, uint32_t n, char **out);

// Number of nodes in the list.
notp_status_t notp_node_list_len(const notp_node_list_t *list, size_t *out);

// Lends the node at `index` (from 0), valid until the list is freed.
// NOTP_ERR_INVALID_ARGUMENT when `index` is past the end.
notp_status_t notp_node_list_get(const notp_node_list_t *list,
                                 size_t index,
                                 const notp_node_t **out);

// Releases a list and the nodes it lent. NULL is ignored.
void notp_node_list_free(notp_node_list_t *list);

// A cursor on the first virtual node (not valid on an empty ring).
// Release it with notp_ring_iter_free().
notp_status_t notp_chash_begin(const notp_chash_t *ring, notp_ring_iter_t **out);

// A cursor on the last virtual node (not valid on an empty ring).
// Release it with notp_ring_iter_free().
notp_status_t notp_chash_end(const notp_chash_t *ring, notp_ring_iter_t **out);

// A cursor on the virtual node whose position is exactly `key` (not valid
// if there is none). Release it with notp_ring_iter_free().
notp_status_t notp_chash_iterator(const notp_chash_t *ring,
                                  const char *key,
                                  notp_ring_iter_t **out);

// Releases a cursor and the node it lent. NULL is ignored.
void notp_ring_iter_free(notp_ring_iter_t *iter);

// Whether the cursor is on a virtual node.
notp_status_t notp_ring_iter_valid(const notp_ring_iter_t *iter, bool *out);

// The cursor's position in the ring, from 0. NOTP_ERR_NOT_FOUND when the
// cursor is not valid.
notp_status_t notp_ring_iter_index(const notp_ring_iter_t *iter, size_t *out);

// A copy of the virtual node's key (its ring position). Release it with
// notp_string_free(). NOTP_ERR_NOT_FOUND when the cursor is not valid.
notp_status_t notp_ring_iter_key(const notp_ring_iter_t *iter, char **out);

// Lends the node behind the virtual node, valid until the cursor is freed.
// NOTP_ERR_NOT_FOUND when the cursor is not valid.
notp_status_t notp_ring_iter_value(const notp_ring_iter_t *iter, const notp_node_t **out);

// Whether a valid cursor has a virtual node after it.
notp_status_t notp_ring_iter_has_next(const notp_ring_iter_t *iter, bool *out);

// Whether a valid cursor has a virtual node before it.
notp_status_t notp_ring_iter_has_prev(const notp_ring_iter_t *iter, bool *out);

// Moves to the next virtual node; past the last one the cursor is no
// longer valid.
notp_status_t notp_ring_iter_next(notp_ring_iter_t *iter);

// Moves to the previous virtual node; before the first one the cursor is
// no longer valid.
notp_status_t notp_ring_iter_prev(notp_ring_iter_t *iter);

// Wall-clock time in microseconds since the Unix epoch, never going
// backwards within the process: the clocks' time stamps.
uint64_t notp_now_micros(void);

// The original's trim defaults: 10 entries, 20 s, 50 entries, 1 day.
notp_trim_options_t notp_trim_options_default(void);

// Creates an empty clock. Release it with notp_vclock_free().
notp_status_t notp_vclock_new(notp_vclock_t **out);

// Creates a clock holding one actor at `count`, stamped now. Release it
// with notp_vclock_free().
notp_status_t notp_vclock_with_actor(const char *id, uint64_t count, notp_vclock_t **out);

// Parses a clock from its JSON text `{"actor":{"count","insert","time"}}`.
// NOTP_ERR_JSON when the text is not JSON or not a well-formed clock.
notp_status_t notp_vclock_from_json(const char *json, notp_vclock_t **out);

// The clock's JSON text, byte-identical to the original's. Release it
// with notp_string_free().
notp_status_t notp_vclock_to_json(const notp_vclock_t *clock, char **out);

// An independent copy of the clock. Release it with notp_vclock_free().
notp_status_t notp_vclock_clone(const notp_vclock_t *clock, notp_vclock_t **out);

// Releases a clock. NULL is ignored.
void notp_vclock_free(notp_vclock_t *clock);

// Adds actor `id` at count 0, stamped now; an existing actor is left alone.
notp_status_t notp_vclock_insert(notp_vclock_t *clock, const char *id);

// Sets actor `id`'s count, stamped now (a new actor is inserted now).
notp_status_t notp_vclock_update(notp_vclock_t *clock, const char *id, uint64_t count);

// Sets actor `id`'s count and time stamp (a new actor is inserted now).
notp_status_t notp_vclock_update_at(notp_vclock_t *clock,
                                    const char *id,
                                    uint64_t count,
                                    uint64_t time);

// Removes actor `id` (absent: no change).
notp_status_t notp_vclock_remove(notp_vclock_t *clock, const char *id);

// Adds one to actor `id`'s count (inserting it first) and stamps it now.
notp_status_t notp_vclock_increment(notp_vclock_t *clock, const char *id);

// Merges `other` into `clock`: per actor the larger count wins; on equal
// counts the later time wins.
notp_status_t notp_vclock_merge(notp_vclock_t *clock, const notp_vclock_t *other);

// Drops old entries as the original does on every gossip poll, ages taken
// relative to `threshold` (microseconds; usually notp_now_micros()).
notp_status_t notp_vclock_trim(notp_vclock_t *clock,
                               uint64_t threshold,
                               const notp_trim_options_t *opts);

// Actor `id`'s entry. NOTP_ERR_NOT_FOUND when the clock has no such actor.
notp_status_t notp_vclock_get(const notp_vclock_t *clock, const char *id, notp_clock_entry_t *out);

// Whether the clock has actor `id`.
notp_status_t notp_vclock_has(const notp_vclock_t *clock, const char *id, bool *out);

// Whether `clock` has seen everything `other` has: `other` is empty, or
// `clock` holds every actor of `other` with a count at least as large.
notp_status_t notp_vclock_descends(const notp_vclock_t *clock,
                                   const notp_vclock_t *other,
                                   bool *out);

// Whether both clocks hold the same actors with the same count, insert and
// time (order ignored).
notp_status_t notp_vclock_equals(const notp_vclock_t *a, const notp_vclock_t *b, bool *out);

// The actor ids as a JSON array of strings, in the clock's JSON order.
// Release it with notp_string_free().
notp_status_t notp_vclock_nodes(const notp_vclock_t *clock, char **out);

// Number of actors.
notp_status_t notp_vclock_size(const notp_vclock_t *clock, size_t *out);

// The largest insert time of any actor (0 for an empty clock).
notp_status_t notp_vclock_max_insert(const notp_vclock_t *clock, uint64_t *out);

// Starts the engine threads with `workers` worker threads (0: the default,
// 2). Optional: the first call that needs the engine starts it with the
// default. Call it before anything else; once the engine runs, asking for
// the same count again is NOTP_OK and a different one
// NOTP_ERR_INVALID_ARGUMENT. NOTP_ERR_NETWORK when the threads cannot be
// started.
notp_status_t notp_runtime_init(uint32_t workers);

// The default options: no cookie, 5000 ms between reconnection attempts,
// never giving a peer up, and the limits documented on each field.
notp_kernel_options_t notp_kernel_options_default(void);

// Starts a kernel for node `id` listening on `host`:`port` (port 0 picks a
// free port; notp_kernel_port() tells which). `opts` may be NULL for the
// defaults. Blocks until the port is bound; not allowed inside callbacks
// (NOTP_ERR_WRONG_THREAD). NOTP_ERR_NETWORK when the address cannot be
// bound; NOTP_ERR_INVALID_ARGUMENT when an option cannot work. Release the
// kernel with notp_kernel_free().
notp_status_t notp_kernel_start(const char *id,
                                const char *host,
                                uint16_t port,
                                const notp_kernel_options_t *opts,
                                notp_kernel_t **out);

// Stops the kernel: stops listening, closes every connection, fails every
// call still waiting (their callbacks get NOTP_ERR_STOPPED) and
// unregisters every server (their handles still need notp_server_free()).
// Does not block; stopping twice is harmless.
notp_status_t notp_kernel_stop(const notp_kernel_t *kernel);

// Stops the kernel if it runs, and releases the handle. Servers and
// deferred replies made from it stay valid until freed themselves. NULL is
// ignored, and so is a kernel lent by notp_cluster_kernel() (its cluster
// node owns it).
void notp_kernel_free(notp_kernel_t *kernel);

// Lends the kernel's own node (with the port actually bound), valid until
// the kernel is freed.
notp_status_t notp_kernel_node(const notp_kernel_t *kernel, const notp_node_t **out);

// The port the kernel listens on.
notp_status_t notp_kernel_port(const notp_kernel_t *kernel, uint16_t *out);

// Opens (or keeps) the outbound connection to `node` and returns at once;
// the connection is made, and remade when lost, on the engine threads.
// Calls, casts and replies to a node travel on it, so two nodes that talk
// both ways connect both ways. Connecting to the kernel's own node does
// nothing. NOTP_ERR_STOPPED on a stopped kernel.
notp_status_t notp_kernel_connect(const notp_kernel_t *kernel, const notp_node_t *node);

// notp_kernel_connect(), then blocks until the connection is up, for at
// most `timeout_ms` milliseconds (0: no limit). NOTP_ERR_TIMEOUT when it is
// not up in time (the kernel keeps trying), NOTP_ERR_NETWORK when
// `max_retries` ran out. Not allowed inside callbacks
// (NOTP_ERR_WRONG_THREAD).
notp_status_t notp_kernel_connect_wait(const notp_kernel_t *kernel,
                                       const notp_node_t *node,
                                       uint32_t timeout_ms);

// Closes the outbound connection to `node`: after writing what is queued,
// or at once with `force`. A node with no connection is ignored.
notp_status_t notp_kernel_disconnect(const notp_kernel_t *kernel,
                                     const notp_node_t *node,
                                     bool force);

// Whether the kernel has an outbound connection to `node`, up or being
// (re)made (always true for the kernel's own node).
notp_status_t notp_kernel_is_connected(const notp_kernel_t *kernel,
                                       const notp_node_t *node,
                                       bool *out);

// Messages the kernel dropped so far, counted by reason, as JSON text
// `{"UNKNOWN_TARGET":1,...}` (`{}` when none). Release it with
// notp_string_free().
notp_status_t notp_kernel_skipped_json(const notp_kernel_t *kernel, char **out);

// Registers a GenServer named `name`: every message whose body is
// `{"event":..., "data":...}` runs `callback(user_data, request)` on an
// engine thread, one message at a time, in order; other bodies are dropped
// (counted as MALFORMED_BODY). `user_data` may be NULL; it must stay valid
// until notp_server_free() returns. NOTP_ERR_NAME_TAKEN when the kernel has
// a server of that name, NOTP_ERR_STOPPED on a stopped kernel. Release the
// server with notp_server_free().
notp_status_t notp_kernel_register(const notp_kernel_t *kernel,
                                   const char *name,
                                   notp_message_cb callback,
                                   void *user_data,
                                   notp_server_t **out);

// As notp_kernel_register(), but every message reaches the callback as it
// arrived: notp_request_event() answers NULL and the data is the whole
// body (what notp_kernel_call_raw() and _cast_raw() send).
notp_status_t notp_kernel_register_raw(const notp_kernel_t *kernel,
                                       const char *name,
                                       notp_message_cb callback,
                                       void *user_data,
                                       notp_server_t **out);

// Unregisters the server and releases the handle. Once it returns, the
// callback is not running and never runs again, so its user data may be
// released; messages still queued are dropped (their callers wait for
// their timeouts). Inside the server's own callback it may be called too:
// that run finishes and no other starts. Called from another server's
// callback it waits for this server's running callback, so two servers
// must not free each other from their callbacks. NULL is ignored.
void notp_server_free(notp_server_t *server);

// Lends the name of the server the message was addressed to.
notp_status_t notp_request_server(const notp_request_t *request, const char **out);

// Lends the GenServer event name; NULL for a raw server's message.
notp_status_t notp_request_event(const notp_request_t *request, const char **out);

// Lends the data as JSON text (a GenServer's `data`, or a raw server's
// whole body). Bytes read as the JSON of a Node Buffer,
// `{"type":"Buffer","data":[...]}`; notp_request_data_bytes() gives them
// as they are.
notp_status_t notp_request_data_json(const notp_request_t *request, const char **out);

// Whether the data is bytes (a Node Buffer, or a streamed body) rather
// than a JSON value.
notp_status_t notp_request_is_bytes(const notp_request_t *request, bool *out);

// Lends the data's bytes and their count. NOTP_ERR_NOT_FOUND when the data
// is a JSON value (see notp_request_is_bytes()).
notp_status_t notp_request_data_bytes(const notp_request_t *request,
                                      const uint8_t **data,
                                      size_t *len);

// Lends the id of the node that sent the message.
notp_status_t notp_request_sender(const notp_request_t *request, const char **out);

// Whether the message is a call that awaits an answer (true) or a cast.
notp_status_t notp_request_has_tag(const notp_request_t *request, bool *out);

// Answers the call with a JSON value (JSON text). A call is answered once:
// NOTP_ERR_NO_TAG for a cast, NOTP_ERR_INVALID_ARGUMENT when already
// answered or deferred, NOTP_ERR_UNKNOWN_NODE when this kernel has no
// connection back to the caller.
notp_status_t notp_request_reply_json(const notp_request_t *request, const char *json);

// Answers the call with `len` bytes (a Buffer, for a JavaScript caller).
// As notp_request_reply_json() otherwise.
notp_status_t notp_request_reply_bytes(const notp_request_t *request,
                                       const uint8_t *data,
                                       size_t len);

// Answers the call with an error: the caller's call fails with
// NOTP_ERR_REMOTE and `message`. As notp_request_reply_json() otherwise.
notp_status_t notp_request_reply_error(const notp_request_t *request, const char *message);

// Takes over the answer, to send later from any thread with
// notp_reply_send_json() and friends; the request itself can then no
// longer be answered. NOTP_ERR_NO_TAG for a cast. Release the reply with
// notp_reply_free(), sent or not (a call never answered waits for its
// timeout).
notp_status_t notp_request_defer(const notp_request_t *request, notp_reply_t **out);

// Sends a deferred answer: a JSON value (JSON text). Once only
// (NOTP_ERR_INVALID_ARGUMENT after that); NOTP_ERR_UNKNOWN_NODE when the
// kernel has no connection back to the caller (or was stopped).
notp_status_t notp_reply_send_json(notp_reply_t *reply, const char *json);

// Sends a deferred answer: `len` bytes. As notp_reply_send_json().
notp_status_t notp_reply_send_bytes(notp_reply_t *reply, const uint8_t *data, size_t len);

// Sends a deferred error answer (NOTP_ERR_REMOTE and `message` for the
// caller). As notp_reply_send_json().
notp_status_t notp_reply_send_error(notp_reply_t *reply, const char *message);

// Releases a deferred reply, sent or not. NULL is ignored.
void notp_reply_free(notp_reply_t *reply);

// Calls `event` on GenServer `server` of `node` with data `data_json` (JSON
// text) and returns at once; `callback(user_data, ...)` runs exactly once
// on an engine thread when the call ends: answered, failed, timed out after
// `timeout_ms` milliseconds (0: no limit), or failed by notp_kernel_stop().
// `user_data` may be NULL; it must stay valid until the callback has run.
// Any status but NOTP_OK means the call was not made and the callback will
// not run. The node must be connected (NOTP_ERR_UNKNOWN_NODE, through the
// callback), unless it is the kernel's own.
notp_status_t notp_kernel_call(const notp_kernel_t *kernel,
                               const notp_node_t *node,
                               const char *server,
                               const char *event,
                               const char *data_json,
                               uint32_t timeout_ms,
                               notp_reply_cb callback,
                               void *user_data);

// notp_kernel_call(), blocking until the call ends; the answer's JSON text
// goes to `*reply_json` (release it with notp_string_free()). Fails with
// the statuses the callback would get (the message in notp_last_error()).
// Not allowed inside callbacks (NOTP_ERR_WRONG_THREAD).
notp_status_t notp_kernel_call_wait(const notp_kernel_t *kernel,
                                    const notp_node_t *node,
                                    const char *server,
                                    const char *event,
                                    const char *data_json,
                                    uint32_t timeout_ms,
                                    char **reply_json);

// Sends `event` with data `data_json` to GenServer `server` of `node`
// without waiting for anything. As in the original, a cast to a node with
// no connection is dropped silently. NOTP_ERR_STOPPED on a stopped kernel.
notp_status_t notp_kernel_cast(const notp_kernel_t *kernel,
                               const notp_node_t *node,
                               const char *server,
                               const char *event,
                               const char *data_json);

// notp_kernel_call() with `data_json` as the whole body instead of
// `{"event","data"}` (for raw servers; JSON of the form
// `{"type":"Buffer","data":[...]}` arrives as bytes).
notp_status_t notp_kernel_call_raw(const notp_kernel_t *kernel,
                                   const notp_node_t *node,
                                   const char *server,
                                   const char *data_json,
                                   uint32_t timeout_ms,
                                   notp_reply_cb callback,
                                   void *user_data);

// notp_kernel_call_wait() with `data_json` as the whole body.
notp_status_t notp_kernel_call_raw_wait(const notp_kernel_t *kernel,
                                        const notp_node_t *node,
                                        const char *server,
                                        const char *data_json,
                                        uint32_t timeout_ms,
                                        char **reply_json);

// notp_kernel_cast() with `data_json` as the whole body.
notp_status_t notp_kernel_cast_raw(const notp_kernel_t *kernel,
                                   const notp_node_t *node,
                                   const char *server,
                                   const char *data_json);

// Starts a call to server `server` of `node` whose body (for a GenServer,
// the JSON text of `{"event":...,"data":...}`) follows in chunks through
// `*stream`: notp_stream_write(), then notp_stream_end(). `callback` runs
// once on an engine thread with the reply, as for notp_kernel_call();
// free the stream with notp_stream_free() (before or after the reply).
// NOTP_ERR_UNKNOWN_NODE (and nothing sent) without a connection to `node`.
notp_status_t notp_kernel_call_stream(const notp_kernel_t *kernel,
                                      const notp_node_t *node,
                                      const char *server,
                                      uint32_t timeout_ms,
                                      notp_reply_cb callback,
                                      void *user_data,
                                      notp_stream_t **stream);

// Starts a cast to server `server` of `node` whose body follows in chunks
// through `*stream`. NOTP_ERR_UNKNOWN_NODE (and nothing sent) without a
// connection to `node`.
notp_status_t notp_kernel_cast_stream(const notp_kernel_t *kernel,
                                      const notp_node_t *node,
                                      const char *server,
                                      notp_stream_t **stream);

// Sends `len` bytes as the stream's next chunk (`len` 0 sends nothing).
notp_status_t notp_stream_write(notp_stream_t *stream, const uint8_t *data, size_t len);

// The bytes waiting to be written on the stream's connection: a producer
// should wait while this is high (a connection more than 64 MiB behind
// drops its oldest frames, which fails the stream).
notp_status_t notp_stream_queued(notp_stream_t *stream, size_t *out);

// Ends the stream: the receiver now has the whole body.
notp_status_t notp_stream_end(notp_stream_t *stream);

// Ends the stream as failed with `message`: the receiver drops the body
// and answers a waiting caller with that error.
notp_status_t notp_stream_fail(notp_stream_t *stream, const char *message);

// Releases a stream. One not ended fails ("Stream aborted."). NULL is
// ignored.
void notp_stream_free(notp_stream_t *stream);

// Registers `callback(user_data, old_ring, new_ring)` to run on an engine
// thread whenever the ring's membership changes, replacing any earlier
// one; a NULL `callback` unregisters it. Callbacks of one node run one at
// a time, in the order of the ring's events. Should they fall behind by
// more than `opts->event_backlog` events, nothing blocks and no change is
// lost: changes not yet run merge into one, from the ring last reported
// to the ring now (so the last change run always ends at the current
// ring), while send, then conflict, then leave and close events are
// dropped, oldest first (notp_cluster_event_counts() counts them). Once
// this returns the earlier callback is not running and never runs again,
// so its user data may be released (called inside that callback, the run
// in progress finishes). `user_data` may be NULL; it must stay valid until
// the callback is replaced, unregistered, or the node stopped.
// NOTP_ERR_STOPPED when registering on a stopped node.
notp_status_t notp_cluster_on_ring_change(const notp_cluster_t *cluster,
                                          notp_ring_change_cb callback,
                                          void *user_data);

// Registers `callback(user_data, ring)` to run on an engine thread when
// the node leaves its ring by notp_cluster_leave() (not by
// notp_cluster_stop(), which unregisters first). As
// notp_cluster_on_ring_change() otherwise.
notp_status_t notp_cluster_on_leave(const notp_cluster_t *cluster,
                                    notp_ring_leave_cb callback,
                                    void *user_data);

// Registers `callback(user_data, ring, clock)` to run on an engine thread
// when a concurrent ring arrives (see notp_ring_conflict_cb). As
// notp_cluster_on_ring_change() otherwise.
notp_status_t notp_cluster_on_conflict(const notp_cluster_t *cluster,
                                       notp_ring_conflict_cb callback,
                                       void *user_data);

// Registers `callback(user_data, clock, ring)` to run on an engine thread
// for every gossip message sent (see notp_ring_send_cb). Send events are
// only produced while one is registered. As notp_cluster_on_ring_change()
// otherwise.
notp_status_t notp_cluster_on_send(const notp_cluster_t *cluster,
                                   notp_ring_send_cb callback,
                                   void *user_data);

// Registers `callback(user_data)` to run on an engine thread once the
// node is out of any ring, after its leave callback (not after
// notp_cluster_stop(), which unregisters first). As
// notp_cluster_on_ring_change() otherwise.
notp_status_t notp_cluster_on_close(const notp_cluster_t *cluster,
                                    notp_ring_close_cb callback,
                                    void *user_data);

// How many ring events this node's callbacks missed one by one since it
// started: changes merged, and events of each other kind dropped (see
// notp_cluster_on_ring_change()).
notp_status_t notp_cluster_event_counts(const notp_cluster_t *cluster,
                                        notp_ring_event_counts_t *out);

// Meets `node` (copied): sends it this node's ring and keeps doing so
// every gossip period until it answers, so the two rings merge (both
// nodes then run the ring-change callback). Meeting a node already in the
// ring, or itself, does nothing. Returns at once.
notp_status_t notp_cluster_meet(const notp_cluster_t *cluster, const notp_node_t *node);

// Inserts a copy of `node` with `weight` virtual nodes (0: the ring's
// rfactor) and gossips the change; a node already in the ring is left as
// it is.
notp_status_t notp_cluster_insert(const notp_cluster_t *cluster,
                                  const notp_node_t *node,
                                  uint32_t weight);

// Inserts copies of `count` nodes (`nodes` is an array of node pointers)
// with `weight` virtual nodes each (0: the ring's rfactor), as one change.
notp_status_t notp_cluster_minsert(const notp_cluster_t *cluster,
                                   const notp_node_t *const *nodes,
                                   size_t count,
                                   uint32_t weight);

// Gives `node` `weight` virtual nodes (0: the ring's rfactor), inserting
// it if absent, and gossips the change.
notp_status_t notp_cluster_update(const notp_cluster_t *cluster,
                                  const notp_node_t *node,
                                  uint32_t weight);

// Removes the node with `node`'s id (absent: no change) and gossips the
// change; the removed node, told so, starts over alone.
notp_status_t notp_cluster_remove(const notp_cluster_t *cluster, const notp_node_t *node);

// Removes `count` nodes (`nodes` is an array of node pointers) as one
// change.
notp_status_t notp_cluster_mremove(const notp_cluster_t *cluster,
                                   const notp_node_t *const *nodes,
                                   size_t count);

// Leaves the ring: tells two members the ring without this node (so the
// others drop it), runs the leave callback, then the close callback, and
// starts over alone in no ring (notp_cluster_ring_id() is then
// NOTP_ERR_NOT_FOUND) until notp_cluster_join(). The kernel keeps running.
// Leaving when in no ring does nothing.
notp_status_t notp_cluster_leave(const notp_cluster_t *cluster);

// Joins ring `ring_id` (after a leave), alone until it meets others.
// NOTP_ERR_INVALID_ARGUMENT when the node already belongs to a ring,
// NOTP_ERR_NAME_TAKEN when a server of that name runs on its kernel.
notp_status_t notp_cluster_join(const notp_cluster_t *cluster, const char *ring_id);

// Gossips now what every period gossips: the ring, to two members.
notp_status_t notp_cluster_poll(const notp_cluster_t *cluster);

// Saves the node's state to `opts->flush_path` now (what every flush
// period does); nothing without a flush path, or before the ring first
// changed. NOTP_ERR_INVALID_ARGUMENT when the file cannot be written (the
// message says why). Also allowed on a stopped node.
notp_status_t notp_cluster_flush(const notp_cluster_t *cluster);

// Restores the state saved at `opts->flush_path` (as at start, but
// without checking the ring id) and connects to its members. Nothing
// without a flush path or a file there; NOTP_ERR_INVALID_ARGUMENT for a
// file that is not a saved state.
notp_status_t notp_cluster_load(const notp_cluster_t *cluster);

// The default options: the kernel's defaults (see
// notp_kernel_options_default()), 3 virtual nodes per node, 2 neighbours,
// gossip every 1000 ms, no flush path, and the limits documented on each
// field.
notp_cluster_options_t notp_cluster_options_default(void);

// Starts a cluster node `id` listening on `host`:`port` (port 0 picks a
// free port; notp_cluster_port() tells which), signing its messages with
// `cookie` (NULL or "": none), member of ring `ring_id`: alone in it until
// it meets others (notp_cluster_meet()) or they meet it. With
// `opts->flush_path`, state saved there is loaded first (and its members
// connected to); a saved ring of another id is NOTP_ERR_INVALID_ARGUMENT.
// `opts` may be NULL for the defaults. Blocks until the port is bound; not
// allowed inside callbacks (NOTP_ERR_WRONG_THREAD). NOTP_ERR_NETWORK when
// the address cannot be bound; NOTP_ERR_NAME_TAKEN when `ring_id` is
// "command" (the CLI's server); NOTP_ERR_INVALID_ARGUMENT when an option
// cannot work. A failed start leaves nothing running.
// Release the node with notp_cluster_free().
notp_status_t notp_cluster_start(const char *id,
                                 const char *host,
                                 uint16_t port,
                                 const char *cookie,
                                 const char *ring_id,
                                 const notp_cluster_options_t *opts,
                                 notp_cluster_t **out);

// Stops the node as the original's stop does: unregisters the ring
// callbacks, saves the ring it has and its ring id to the flush path if
// one is set (so a restart resumes them), leaves the ring (telling two
// members, so the others drop this node), and stops the kernel (as
// notp_kernel_stop()). Once it returns no ring callback of this
// node runs any more (not even for this leave) and its user data may be
// released; called inside one of them, that run finishes and no other
// starts. Later changes (meet, insert, ...) fail with NOTP_ERR_STOPPED;
// the ring can still be read. Does not block on the network; stopping
// twice is harmless.
notp_status_t notp_cluster_stop(const notp_cluster_t *cluster);

// Whether the node is stopped: by notp_cluster_stop(), or because its
// kernel was stopped (notp_kernel_stop() on the lent kernel). A stopped
// node refuses changes with NOTP_ERR_STOPPED and runs no callback.
notp_status_t notp_cluster_is_stopped(const notp_cluster_t *cluster, bool *out);

// Stops the node if it runs (see notp_cluster_stop()) and releases the
// handle; the kernel it lent dies with it, while servers registered on
// that kernel stay valid until freed themselves. Must be the handle's
// last use. NULL is ignored.
void notp_cluster_free(notp_cluster_t *cluster);

// Lends the node's kernel, valid until notp_cluster_free(): register
// servers on it (notp_kernel_register()) and make calls with it as with
// any kernel. It belongs to the cluster node: never pass it to
// notp_kernel_free() (which ignores it); prefer notp_cluster_stop() to
// notp_kernel_stop(), which stops the node's gossip too but without
// leaving its ring.
notp_status_t notp_cluster_kernel(const notp_cluster_t *cluster, const notp_kernel_t **out);

// Lends the node itself (with the port actually bound), valid until
// notp_cluster_free(): what other nodes pass to notp_cluster_meet().
notp_status_t notp_cluster_node(const notp_cluster_t *cluster, const notp_node_t **out);

// The port the node listens on.
notp_status_t notp_cluster_port(const notp_cluster_t *cluster, uint16_t *out);

// A copy of the id of the ring the node belongs to. NOTP_ERR_NOT_FOUND
// after it left (notp_cluster_leave()) and until it joins one. Release it
// with notp_string_free().
notp_status_t notp_cluster_ring_id(const notp_cluster_t *cluster, char **out);

// A copy of the actor of the node's latest ring change (the vector clock
// entry it last counted). NOTP_ERR_NOT_FOUND before the first change.
// Release it with notp_string_free().
notp_status_t notp_cluster_actor(const notp_cluster_t *cluster, char **out);

// A copy of the node's ring as it is now, independent of later changes.
// Release it with notp_chash_free().
notp_status_t notp_cluster_ring(const notp_cluster_t *cluster, notp_chash_t **out);

// The node's ring as JSON text, as notp_chash_to_json() writes it (what
// the CLI's `inspect` shows). Release it with notp_string_free().
notp_status_t notp_cluster_ring_json(const notp_cluster_t *cluster, char **out);

// A copy of the ring's vector clock. Release it with notp_vclock_free().
notp_status_t notp_cluster_vclock(const notp_cluster_t *cluster, notp_vclock_t **out);

// The `size` nodes that hold `key` (`key_len` bytes), at most every node
// (0 or negative: pfactor + 1, as notp_cluster_range()): its owner, then
// the owner's successors, as the original's `find(key, size)`. Release
// the list with notp_node_list_free().
notp_status_t notp_cluster_find(const notp_cluster_t *cluster,
                                const uint8_t *key,
                                size_t key_len,
                                int64_t size,
                                notp_node_list_t **out);

// Up to `range` distinct nodes (0 or negative: pfactor + 1), starting
// with the owner of `key` (`key_len` bytes) and going clockwise (the
// original's `range`). Release the list with notp_node_list_free().
notp_status_t notp_cluster_range(const notp_cluster_t *cluster,
                                 const uint8_t *key,
                                 size_t key_len,
                                 int64_t range,
                                 notp_node_list_t **out);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* LIBNOTP_H */
