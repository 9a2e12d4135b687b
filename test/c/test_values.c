/*
 * Tests the C door onto notp's values (Node, CHash, VectorClock) as a C user
 * would use it: against the vectors captured from the original (flattened by
 * flatten-vectors.js), then ownership, clocks and every error path.
 *
 *   test_values VECTORS_TSV
 *
 * Compiles as C11 and as C++17 (the same file), to prove the header works
 * from both. Prints "N passed, M failed" last; exits non-zero on a failure.
 */
#include "libnotp.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static bool has_id(const notp_node_t *node, const char *id) {
  char *got = NULL;
  if (notp_node_id(node, &got) != NOTP_OK) return false;
  bool same = strcmp(got, id) == 0;
  notp_string_free(got);
  return same;
}

/* ---- building the vector rings ------------------------------------------ */

static notp_node_t *make_node(const char *id, const char *host, uint16_t port) {
  notp_node_t *node = NULL;
  OK(notp_node_new(id, host, port, &node));
  return node;
}

static void insert(notp_chash_t *ring, const char *id, const char *host, uint16_t port,
                   uint32_t weight) {
  notp_node_t *node = make_node(id, host, port);
  OK(notp_chash_insert(ring, node, weight));
  notp_node_free(node);
}

static notp_chash_t *new_ring(void) {
  notp_chash_t *ring = NULL;
  OK(notp_chash_new(3, 2, &ring));
  return ring;
}

/* foo, bar, baz into a (3,2) ring; bar with `bar_weight` (0: rfactor). */
static notp_chash_t *three_nodes(uint32_t bar_weight) {
  notp_chash_t *ring = new_ring();
  insert(ring, "foo", "localhost", 7022, 0);
  insert(ring, "bar", "localhost", 7023, bar_weight);
  insert(ring, "baz", "127.0.0.1", 7024, 0);
  return ring;
}

/* Builds the ring a chash.json entry describes, with the operations named
 * in its label. */
static notp_chash_t *build_ring(const char *label) {
  if (strcmp(label, "default_weights") == 0) return three_nodes(0);
  if (strcmp(label, "bar_weight5") == 0) return three_nodes(5);
  if (strcmp(label, "single_foo") == 0) {
    notp_chash_t *ring = new_ring();
    insert(ring, "foo", "localhost", 7022, 0);
    return ring;
  }
  if (strcmp(label, "default_minus_bar") == 0) {
    notp_chash_t *ring = three_nodes(0);
    notp_node_t *bar = make_node("bar", "localhost", 7023);
    OK(notp_chash_remove(ring, bar));
    notp_node_free(bar);
    return ring;
  }
  if (strcmp(label, "fromJSON_bar_weight5") == 0) {
    notp_chash_t *source = three_nodes(5), *ring = NULL;
    char *json = NULL;
    OK(notp_chash_to_json(source, &json));
    OK(notp_chash_from_json(json, &ring));
    notp_string_free(json);
    notp_chash_free(source);
    return ring;
  }
  if (strcmp(label, "merge_foo_bar5") == 0) {
    notp_chash_t *ring = new_ring(), *other = new_ring();
    insert(ring, "foo", "localhost", 7022, 0);
    insert(other, "bar", "localhost", 7023, 5);
    OK(notp_chash_merge(ring, other));
    notp_chash_free(other);
    return ring;
  }
  check(false, "no recipe for the vector ring \"%s\"", label);
  return NULL;
}

/* ---- checking one vector record ----------------------------------------- */

enum { MAX_FIELDS = 16 };

typedef struct {
  const char *ring_label;
  notp_chash_t *ring;
  char *fields[MAX_FIELDS];
  int count; /* fields, the tag included */
} record_t;

static bool same_ids(notp_node_list_t *list, char *const *ids, int count, const char *what) {
  size_t len = 0;
  bool ok = OK(notp_node_list_len(list, &len)) &&
            check(len == (size_t)count, "%s: %zu nodes, want %d", what, len, count);
  for (int i = 0; ok && i < count; i++) {
    const notp_node_t *node = NULL;
    ok = OK(notp_node_list_get(list, (size_t)i, &node)) &&
         check(has_id(node, ids[i]), "%s: node %d is not %s", what, i, ids[i]);
  }
  notp_node_list_free(list);
  return ok;
}

static void check_sizes(const record_t *r, const char *tag) {
  size_t got = 0, want = strtoul(r->fields[1], NULL, 10);
  if (strcmp(tag, "number_nodes") == 0) {
    OK(notp_chash_number_nodes(r->ring, &got));
    check(got == want, "%s: number_nodes %zu, want %zu", r->ring_label, got, want);
    return;
  }
  OK(notp_chash_size(r->ring, &got));
  check(got == want, "%s: size %zu, want %zu", r->ring_label, got, want);
  /* Walking the ring visits every virtual node once, in ascending order. */
  notp_ring_iter_t *it = NULL;
  OK(notp_chash_begin(r->ring, &it));
  size_t walked = 0;
  char *prev = NULL;
  bool valid = false, ascending = true;
  while (notp_ring_iter_valid(it, &valid) == NOTP_OK && valid) {
    char *key = NULL;
    OK(notp_ring_iter_key(it, &key));
    if (prev && strcmp(prev, key) >= 0) ascending = false;
    notp_string_free(prev);
    prev = key;
    walked++;
    OK(notp_ring_iter_next(it));
  }
  notp_string_free(prev);
  notp_ring_iter_free(it);
  check(walked == want && ascending, "%s: walked %zu virtual nodes (ascending: %d)",
        r->ring_label, walked, ascending);
}

static void check_factor(const record_t *r, const char *tag) {
  uint32_t got = 0, want = (uint32_t)strtoul(r->fields[1], NULL, 10);
  OK(strcmp(tag, "rfactor") == 0 ? notp_chash_rfactor(r->ring, &got)
                                 : notp_chash_pfactor(r->ring, &got));
  check(got == want, "%s: %s %u, want %u", r->ring_label, tag, got, want);
}

static void check_find(const record_t *r) {
  const char *key = r->fields[1];
  const notp_node_t *owner = NULL;
  OK(notp_chash_find(r->ring, (const uint8_t *)key, strlen(key), &owner));
  check(has_id(owner, r->fields[2]), "%s: find(\"%s\") is not %s", r->ring_label, key,
        r->fields[2]);
}

/* range_next / range_prev KEY RANGE IDS... (RANGE 0: the default) */
static void check_range(const record_t *r, bool clockwise) {
  const char *key = r->fields[1];
  long range = strtol(r->fields[2], NULL, 10);
  char what[128];
  snprintf(what, sizeof what, "%s: %s(\"%.20s\", %ld)", r->ring_label, r->fields[0], key,
           range);
  /* 0 and negative ranges both mean "the default". */
  for (long asked = range; asked >= (range == 0 ? -1 : range); asked--) {
    notp_node_list_t *list = NULL;
    notp_status_t status =
        clockwise ? notp_chash_range_next(r->ring, (const uint8_t *)key, strlen(key), asked, &list)
                  : notp_chash_range_prev(r->ring, (const uint8_t *)key, strlen(key), asked, &list);
    if (OK(status)) same_ids(list, r->fields + 3, r->count - 3, what);
  }
}

/* next / prev ID RANGE IDS... (the node need not be in the ring) */
static void check_neighbours(const record_t *r, bool clockwise) {
  notp_node_t *node = make_node(r->fields[1], "", 0);
  long range = strtol(r->fields[2], NULL, 10);
  char what[128];
  snprintf(what, sizeof what, "%s: %s(%s, %ld)", r->ring_label, r->fields[0], r->fields[1], range);
  notp_node_list_t *list = NULL;
  notp_status_t status = clockwise ? notp_chash_next(r->ring, node, range, &list)
                                   : notp_chash_prev(r->ring, node, range, &list);
  if (OK(status)) same_ids(list, r->fields + 3, r->count - 3, what);
  notp_node_free(node);
}

static void check_get(const record_t *r) {
  const notp_node_t *node = NULL;
  if (strcmp(r->fields[2], "null") == 0) {
    FAILS(NOTP_ERR_NOT_FOUND, notp_chash_get(r->ring, r->fields[1], &node));
    return;
  }
  char *json = NULL;
  if (OK(notp_chash_get(r->ring, r->fields[1], &node)) && OK(notp_node_to_json(node, &json)))
    same_text(json, r->fields[2], r->ring_label);
}

static void check_defined(const record_t *r) {
  bool got = false, want = strcmp(r->fields[2], "true") == 0;
  OK(notp_chash_is_defined(r->ring, r->fields[1], &got));
  check(got == want, "%s: isDefined(%s) %d", r->ring_label, r->fields[1], got);
  uint32_t weight = 0;
  notp_status_t status = notp_chash_weight(r->ring, r->fields[1], &weight);
  check(want ? status == NOTP_OK && weight > 0 : status == NOTP_ERR_NOT_FOUND,
        "%s: weight(%s) answered %d", r->ring_label, r->fields[1], (int)status);
}

/* vnode_of HASH ID: the virtual node at HASH belongs to ID. */
static void check_vnode_of(const record_t *r) {
  notp_ring_iter_t *it = NULL;
  const notp_node_t *node = NULL;
  char *key = NULL;
  OK(notp_chash_iterator(r->ring, r->fields[1], &it));
  if (OK(notp_ring_iter_value(it, &node)))
    check(has_id(node, r->fields[2]), "%s: %s is not %s's", r->ring_label, r->fields[1],
          r->fields[2]);
  if (OK(notp_ring_iter_key(it, &key))) same_text(key, r->fields[1], "iterator key");
  notp_ring_iter_free(it);
}

static void check_text(const record_t *r, const char *tag) {
  char *got = NULL, what[64];
  snprintf(what, sizeof what, "%s: %s", r->ring_label, tag);
  OK(strcmp(tag, "json") == 0 ? notp_chash_to_json(r->ring, &got)
                              : notp_chash_weights(r->ring, &got));
  same_text(got, r->fields[1], what);
}

static void check_hash(const record_t *r, const char *tag) {
  char *got = NULL;
  if (strcmp(tag, "sha") == 0) {
    const char *input = r->fields[1];
    OK(notp_hash_key((const uint8_t *)input, strlen(input), &got));
    same_text(got, r->fields[2], "hash_key");
  } else {
    OK(notp_vnode_key(r->fields[1], (uint32_t)strtoul(r->fields[2], NULL, 10), &got));
    same_text(got, r->fields[3], "vnode_key");
  }
}

static void check_record(record_t *r) {
  const char *tag = r->fields[0];
  if (strcmp(tag, "sha") == 0 || strcmp(tag, "vnode_key") == 0) {
    check_hash(r, tag);
    return;
  }
  if (strcmp(tag, "ring") == 0) {
    notp_chash_free(r->ring);
    r->ring_label = r->fields[1];
    r->ring = build_ring(r->ring_label);
    return;
  }
  if (!check(r->ring != NULL, "record \"%s\" outside a ring", tag)) return;
  if (strcmp(tag, "rfactor") == 0 || strcmp(tag, "pfactor") == 0) check_factor(r, tag);
  else if (strcmp(tag, "json") == 0 || strcmp(tag, "weights") == 0) check_text(r, tag);
  else if (strcmp(tag, "size") == 0 || strcmp(tag, "number_nodes") == 0) check_sizes(r, tag);
  else if (strcmp(tag, "nodes") == 0) {
    notp_node_list_t *list = NULL;
    if (OK(notp_chash_nodes(r->ring, &list)))
      same_ids(list, r->fields + 1, r->count - 1, "nodes");
  }
  else if (strcmp(tag, "vnode_of") == 0) check_vnode_of(r);
  else if (strcmp(tag, "find") == 0) check_find(r);
  else if (strcmp(tag, "range_next") == 0) check_range(r, true);
  else if (strcmp(tag, "range_prev") == 0) check_range(r, false);
  else if (strcmp(tag, "next") == 0) check_neighbours(r, true);
  else if (strcmp(tag, "prev") == 0) check_neighbours(r, false);
  else if (strcmp(tag, "get") == 0) check_get(r);
  else if (strcmp(tag, "defined") == 0) check_defined(r);
  else check(false, "unknown record \"%s\"", tag);
}

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *text = NULL;
  if (fseek(f, 0, SEEK_END) == 0) {
    long size = ftell(f);
    text = size >= 0 ? (char *)malloc((size_t)size + 1) : NULL;
    if (text && (fseek(f, 0, SEEK_SET) != 0 || fread(text, 1, (size_t)size, f) != (size_t)size)) {
      free(text);
      text = NULL;
    }
    if (text) text[size] = '\0';
  }
  fclose(f);
  return text;
}

static void test_vectors(const char *path) {
  char *text = read_file(path);
  if (!check(text != NULL, "cannot read the vectors from %s", path)) return;
  record_t r;
  memset(&r, 0, sizeof r);
  for (char *line = text; *line;) {
    char *end = strchr(line, '\n');
    char *next = end ? end + 1 : line + strlen(line);
    if (end) *end = '\0';
    r.count = 0;
    /* Split on tabs, keeping empty fields (the empty key is a vector). */
    for (char *field = line; field && r.count < MAX_FIELDS;) {
      char *tab = strchr(field, '\t');
      if (tab) *tab = '\0';
      r.fields[r.count++] = field;
      field = tab ? tab + 1 : NULL;
    }
    if (*line) check_record(&r);
    line = next;
  }
  notp_chash_free(r.ring);
  free(text);
}

/* ---- nodes -------------------------------------------------------------- */

static void test_node(void) {
  notp_node_t *node = make_node("foo", "localhost", 7022), *copy = NULL, *parsed = NULL;
  char *text = NULL;
  uint16_t port = 0;
  bool equal = false;

  OK(notp_node_id(node, &text));
  same_text(text, "foo", "node id");
  OK(notp_node_host(node, &text));
  same_text(text, "localhost", "node host");
  OK(notp_node_port(node, &port));
  check(port == 7022, "node port %u", port);
  OK(notp_node_to_json(node, &text));
  same_text(text, "{\"id\":\"foo\",\"host\":\"localhost\",\"port\":7022}", "node json");

  OK(notp_node_from_json("{\"id\":\"foo\",\"host\":\"localhost\",\"port\":7022}", &parsed));
  OK(notp_node_equals(node, parsed, &equal));
  check(equal, "a node parsed from its JSON equals it");
  OK(notp_node_clone(node, &copy));
  OK(notp_node_equals(node, copy, &equal));
  check(equal, "a cloned node equals its original");
  notp_node_free(copy);
  OK(notp_node_new("foo", "localhost", 7023, &copy));
  OK(notp_node_equals(node, copy, &equal));
  check(!equal, "nodes on different ports differ");
  check(strcmp(notp_last_error(), "") == 0, "no message after a success");

  notp_node_free(copy);
  notp_node_free(parsed);
  notp_node_free(node);
}

/* ---- rings beyond the vectors ------------------------------------------- */

static void expect_weights(const notp_chash_t *ring, const char *want) {
  char *got = NULL;
  OK(notp_chash_weights(ring, &got));
  same_text(got, want, "weights");
}

static void test_ring_changes(void) {
  notp_chash_t *ring = three_nodes(0), *copy = NULL;
  notp_node_t *foo = make_node("foo", "localhost", 7022);
  uint32_t factor = 0;
  bool equal = false;

  /* update moves the node to the end of the weights */
  OK(notp_chash_update(ring, foo, 4));
  expect_weights(ring, "{\"bar\":3,\"baz\":3,\"foo\":4}");
  FAILS(NOTP_ERR_INVALID_ARGUMENT, notp_chash_update(ring, foo, 0));

  /* inserting a present id changes nothing */
  OK(notp_chash_clone(ring, &copy));
  OK(notp_chash_insert(ring, foo, 7));
  OK(notp_chash_equals(ring, copy, &equal));
  check(equal, "re-inserting a present node changes nothing");

  /* insert with weight 0 uses rfactor */
  OK(notp_chash_set_rfactor(ring, 2));
  OK(notp_chash_rfactor(ring, &factor));
  check(factor == 2, "rfactor set to 2, read %u", factor);
  insert(ring, "qux", "localhost", 7025, 0);
  expect_weights(ring, "{\"bar\":3,\"baz\":3,\"foo\":4,\"qux\":2}");
  OK(notp_chash_set_pfactor(ring, 1));
  OK(notp_chash_pfactor(ring, &factor));
  check(factor == 1, "pfactor set to 1, read %u", factor);

  /* a node lent by the ring can be handed back to that ring */
  const notp_node_t *owner = NULL;
  OK(notp_chash_find(ring, (const uint8_t *)"key0", 4, &owner));
  OK(notp_chash_insert(ring, owner, 0));
  OK(notp_chash_get(ring, "qux", &owner));
  OK(notp_chash_remove(ring, owner));
  expect_weights(ring, "{\"bar\":3,\"baz\":3,\"foo\":4}");
  OK(notp_chash_remove_id(ring, "bar"));
  OK(notp_chash_remove_id(ring, "nobody"));
  expect_weights(ring, "{\"baz\":3,\"foo\":4}");

  /* merge and intersect, also with the ring itself */
  notp_chash_t *full = three_nodes(0);
  OK(notp_chash_merge(ring, ring));
  expect_weights(ring, "{\"baz\":3,\"foo\":4}");
  /* the intersection counts weights walking `full`, where baz comes first */
  OK(notp_chash_intersect(ring, full));
  expect_weights(ring, "{\"baz\":3,\"foo\":3}");
  OK(notp_chash_intersect(ring, ring));
  OK(notp_chash_merge(ring, full));
  OK(notp_chash_equals(ring, full, &equal));
  check(equal, "merging back the full ring restores it");

  /* an empty ring has no owner for any key */
  notp_chash_t *empty = new_ring();
  FAILS(NOTP_ERR_NOT_FOUND, notp_chash_find(empty, (const uint8_t *)"k", 1, &owner));
  notp_node_list_t *list = NULL;
  OK(notp_chash_range_next(empty, (const uint8_t *)"", 0, 0, &list));
  same_ids(list, NULL, 0, "range_next on an empty ring");

  notp_chash_free(empty);
  notp_chash_free(full);
  notp_chash_free(copy);
  notp_node_free(foo);
  notp_chash_free(ring);
}

static void test_ring_iterator(void) {
  notp_chash_t *ring = three_nodes(0);
  notp_ring_iter_t *first = NULL, *last = NULL;
  size_t index = 0;
  bool flag = true;

  OK(notp_chash_begin(ring, &first));
  OK(notp_chash_end(ring, &last));
  OK(notp_ring_iter_has_prev(first, &flag));
  check(!flag, "the first virtual node has no predecessor");
  OK(notp_ring_iter_has_next(last, &flag));
  check(!flag, "the last virtual node has no successor");
  OK(notp_ring_iter_index(last, &index));
  check(index == 8, "the last of 9 virtual nodes is at %zu", index);

  /* the cursor reads a snapshot: it outlives its ring */
  notp_chash_free(ring);
  const notp_node_t *node = NULL;
  OK(notp_ring_iter_value(first, &node));
  check(has_id(node, "bar"), "the first virtual node is bar's");
  OK(notp_ring_iter_prev(first));
  OK(notp_ring_iter_valid(first, &flag));
  check(!flag, "before the first virtual node the cursor is not valid");
  FAILS(NOTP_ERR_NOT_FOUND, notp_ring_iter_value(first, &node));
  FAILS(NOTP_ERR_NOT_FOUND, notp_ring_iter_index(first, &index));
  char *key = NULL;
  FAILS(NOTP_ERR_NOT_FOUND, notp_ring_iter_key(first, &key));

  notp_ring_iter_free(first);
  notp_ring_iter_free(last);
}

/* ---- clocks ------------------------------------------------------------- */

static notp_vclock_t *parse_clock(const char *json) {
  notp_vclock_t *clock = NULL;
  OK(notp_vclock_from_json(json, &clock));
  return clock;
}

static void expect_clock_json(const notp_vclock_t *clock, const char *want, const char *what) {
  char *got = NULL;
  OK(notp_vclock_to_json(clock, &got));
  same_text(got, want, what);
}

static notp_clock_entry_t entry_of(const notp_vclock_t *clock, const char *id) {
  notp_clock_entry_t e;
  memset(&e, 0, sizeof e);
  OK(notp_vclock_get(clock, id, &e));
  return e;
}

static void test_clock_json(void) {
  const char *text = "{\"b\":{\"count\":2,\"insert\":5,\"time\":7},"
                     "\"a\":{\"count\":1,\"insert\":1,\"time\":3}}";
  notp_vclock_t *clock = parse_clock(text);
  expect_clock_json(clock, text, "clock round trip");
  char *nodes = NULL;
  OK(notp_vclock_nodes(clock, &nodes));
  same_text(nodes, "[\"b\",\"a\"]", "clock nodes");
  notp_vclock_free(clock);

  /* JavaScript object order: array-index keys first, ascending */
  clock = parse_clock("{\"x\":{\"count\":1,\"insert\":1,\"time\":1},"
                      "\"10\":{\"count\":1,\"insert\":1,\"time\":1},"
                      "\"2\":{\"count\":1,\"insert\":1,\"time\":1}}");
  expect_clock_json(clock,
                    "{\"2\":{\"count\":1,\"insert\":1,\"time\":1},"
                    "\"10\":{\"count\":1,\"insert\":1,\"time\":1},"
                    "\"x\":{\"count\":1,\"insert\":1,\"time\":1}}",
                    "clock in JavaScript key order");
  notp_vclock_free(clock);
}

static void test_clock_changes(void) {
  notp_vclock_t *clock = NULL, *copy = NULL;
  size_t size = 1;
  uint64_t max_insert = 1;
  bool flag = false;

  OK(notp_vclock_new(&clock));
  OK(notp_vclock_size(clock, &size));
  OK(notp_vclock_max_insert(clock, &max_insert));
  check(size == 0 && max_insert == 0, "a new clock is empty");

  uint64_t before = notp_now_micros();
  OK(notp_vclock_increment(clock, "a"));
  OK(notp_vclock_increment(clock, "a"));
  notp_clock_entry_t a = entry_of(clock, "a");
  check(a.count == 2 && a.insert >= before && a.time >= a.insert,
        "increment twice: count %llu", (unsigned long long)a.count);
  OK(notp_vclock_max_insert(clock, &max_insert));
  check(max_insert == a.insert, "max_insert is a's insert time");

  OK(notp_vclock_insert(clock, "b"));
  OK(notp_vclock_insert(clock, "a"));
  check(entry_of(clock, "b").count == 0 && entry_of(clock, "a").count == 2,
        "insert adds at 0 and leaves present actors alone");
  OK(notp_vclock_update_at(clock, "b", 5, 1234));
  notp_clock_entry_t b = entry_of(clock, "b");
  check(b.count == 5 && b.time == 1234, "update_at sets count and time");
  OK(notp_vclock_update(clock, "b", 6));
  check(entry_of(clock, "b").time >= before, "update stamps now");

  OK(notp_vclock_clone(clock, &copy));
  OK(notp_vclock_equals(clock, copy, &flag));
  check(flag, "a clone equals its clock");
  OK(notp_vclock_remove(clock, "b"));
  OK(notp_vclock_has(clock, "b", &flag));
  check(!flag, "a removed actor is gone");
  notp_clock_entry_t e;
  FAILS(NOTP_ERR_NOT_FOUND, notp_vclock_get(clock, "b", &e));

  notp_vclock_t *with = NULL;
  OK(notp_vclock_with_actor("z", 9, &with));
  check(entry_of(with, "z").count == 9, "with_actor starts at its count");

  notp_vclock_free(with);
  notp_vclock_free(copy);
  notp_vclock_free(clock);
}

static void test_clock_merge(void) {
  notp_vclock_t *mine = parse_clock("{\"x\":{\"count\":1,\"insert\":1,\"time\":10},"
                                    "\"t\":{\"count\":3,\"insert\":1,\"time\":10}}");
  notp_vclock_t *theirs = parse_clock("{\"x\":{\"count\":2,\"insert\":2,\"time\":5},"
                                      "\"t\":{\"count\":3,\"insert\":2,\"time\":20},"
                                      "\"y\":{\"count\":1,\"insert\":3,\"time\":3}}");
  notp_vclock_t *empty = NULL;
  bool flag = true;
  OK(notp_vclock_new(&empty));

  OK(notp_vclock_descends(mine, theirs, &flag));
  check(!flag, "a clock missing an actor does not descend");
  OK(notp_vclock_descends(mine, empty, &flag));
  check(flag, "every clock descends the empty clock");
  OK(notp_vclock_descends(empty, mine, &flag));
  check(!flag, "the empty clock descends no other");

  OK(notp_vclock_merge(mine, theirs));
  expect_clock_json(mine,
                    "{\"x\":{\"count\":2,\"insert\":2,\"time\":5},"
                    "\"t\":{\"count\":3,\"insert\":2,\"time\":20},"
                    "\"y\":{\"count\":1,\"insert\":3,\"time\":3}}",
                    "merge: larger count wins, then later time");
  OK(notp_vclock_descends(mine, theirs, &flag));
  check(flag, "a merged clock descends what it merged");
  OK(notp_vclock_merge(mine, mine));
  OK(notp_vclock_equals(mine, theirs, &flag));
  check(flag, "merging a clock with itself changes nothing");

  notp_vclock_free(empty);
  notp_vclock_free(theirs);
  notp_vclock_free(mine);
}

static void test_clock_trim(void) {
  const uint64_t day = 86400000000ULL; /* in µs */
  const uint64_t now = 100 * day;
  notp_trim_options_t opts = notp_trim_options_default();
  check(opts.lower_bound == 10 && opts.young_bound == 20000000 && opts.upper_bound == 50 &&
            opts.old_bound == day,
        "the original's trim defaults");

  notp_vclock_t *clock = NULL;
  OK(notp_vclock_new(&clock));
  char id[16];
  for (int i = 0; i < 12; i++) {
    snprintf(id, sizeof id, "actor%d", i);
    /* three entries two days old, the rest a minute old */
    OK(notp_vclock_update_at(clock, id, 1, i < 3 ? now - 2 * day : now - 60000000));
  }
  size_t size = 0;
  OK(notp_vclock_trim(clock, now, &opts));
  OK(notp_vclock_size(clock, &size));
  check(size == 9, "trim drops entries older than old_bound: %zu left", size);

  OK(notp_vclock_trim(clock, now, &opts));
  OK(notp_vclock_size(clock, &size));
  check(size == 9, "trim leaves clocks of at most lower_bound entries: %zu", size);

  opts.lower_bound = 5;
  opts.upper_bound = 4;
  OK(notp_vclock_trim(clock, now, &opts));
  OK(notp_vclock_size(clock, &size));
  check(size == 4, "trim cuts down to upper_bound: %zu left", size);
  notp_vclock_free(clock);
}

/* ---- error paths -------------------------------------------------------- */

static void test_bad_input(void) {
  notp_chash_t *ring = NULL;
  notp_vclock_t *clock = NULL;
  notp_node_t *node = NULL;
  static const char *bad_rings[] = {
      "{",
      "[]",
      "{\"rfactor\":3,\"pfactor\":2}",
      "{\"rfactor\":-1,\"pfactor\":2,\"tree\":[]}",
      "{\"rfactor\":3,\"pfactor\":2,\"tree\":[{\"key\":\"\",\"value\":"
      "{\"id\":\"a\",\"host\":\"h\",\"port\":1}}]}",
      "{\"rfactor\":3,\"pfactor\":2,\"tree\":[{\"key\":\"k\",\"value\":{\"id\":\"a\"}}]}",
  };
  for (size_t i = 0; i < sizeof bad_rings / sizeof *bad_rings; i++)
    FAILS(NOTP_ERR_JSON, notp_chash_from_json(bad_rings[i], &ring));
  static const char *bad_clocks[] = {
      "{", "[1]", "{\"a\":{\"count\":-1,\"insert\":0,\"time\":0}}", "{\"a\":{\"count\":1}}",
      "{\"a\":{\"count\":9007199254740992,\"insert\":0,\"time\":0}}",
  };
  for (size_t i = 0; i < sizeof bad_clocks / sizeof *bad_clocks; i++)
    FAILS(NOTP_ERR_JSON, notp_vclock_from_json(bad_clocks[i], &clock));
  FAILS(NOTP_ERR_JSON, notp_node_from_json("{\"id\":\"a\",\"host\":\"h\",\"port\":70000}", &node));
  FAILS(NOTP_ERR_JSON, notp_node_from_json("nope", &node));
  check(ring == NULL && clock == NULL && node == NULL, "failed calls leave out untouched");

  FAILS(NOTP_ERR_UTF8, notp_node_new("\xff", "h", 1, &node));
  FAILS(NOTP_ERR_UTF8, notp_vclock_with_actor("a\xc3", 1, &clock));

  ring = three_nodes(0);
  notp_node_list_t *list = NULL;
  const notp_node_t *borrowed = NULL;
  OK(notp_chash_nodes(ring, &list));
  FAILS(NOTP_ERR_INVALID_ARGUMENT, notp_node_list_get(list, 3, &borrowed));
  notp_node_list_free(list);
  FAILS(NOTP_ERR_NOT_FOUND, notp_chash_get(ring, "nobody", &borrowed));
  uint32_t weight = 0;
  FAILS(NOTP_ERR_NOT_FOUND, notp_chash_weight(ring, "nobody", &weight));
  notp_chash_free(ring);
}

/* Every function refuses NULL for each pointer it takes. */
static void test_null_arguments(void) {
  notp_chash_t *ring = three_nodes(0);
  notp_node_t *node = make_node("foo", "localhost", 7022);
  notp_vclock_t *clock = NULL;
  notp_ring_iter_t *it = NULL;
  notp_node_list_t *list = NULL;
  OK(notp_vclock_new(&clock));
  OK(notp_chash_begin(ring, &it));
  OK(notp_chash_nodes(ring, &list));
  const uint8_t *key = (const uint8_t *)"k";
  notp_trim_options_t opts = notp_trim_options_default();
  char *text;
  const notp_node_t *borrowed;
  notp_node_t *made;
  notp_chash_t *made_ring;
  notp_vclock_t *made_clock;
  notp_ring_iter_t *made_it;
  notp_node_list_t *made_list;
  notp_clock_entry_t entry;
  size_t size;
  uint32_t u32;
  uint64_t u64;
  uint16_t port;
  bool flag;

  NULL_ARG(notp_node_new(NULL, "h", 1, &made));
  NULL_ARG(notp_node_new("a", NULL, 1, &made));
  NULL_ARG(notp_node_new("a", "h", 1, NULL));
  NULL_ARG(notp_node_from_json(NULL, &made));
  NULL_ARG(notp_node_from_json("{}", NULL));
  NULL_ARG(notp_node_to_json(NULL, &text));
  NULL_ARG(notp_node_to_json(node, NULL));
  NULL_ARG(notp_node_clone(NULL, &made));
  NULL_ARG(notp_node_clone(node, NULL));
  NULL_ARG(notp_node_id(NULL, &text));
  NULL_ARG(notp_node_id(node, NULL));
  NULL_ARG(notp_node_host(NULL, &text));
  NULL_ARG(notp_node_host(node, NULL));
  NULL_ARG(notp_node_port(NULL, &port));
  NULL_ARG(notp_node_port(node, NULL));
  NULL_ARG(notp_node_equals(NULL, node, &flag));
  NULL_ARG(notp_node_equals(node, NULL, &flag));
  NULL_ARG(notp_node_equals(node, node, NULL));

  NULL_ARG(notp_chash_new(3, 2, NULL));
  NULL_ARG(notp_chash_from_json(NULL, &made_ring));
  NULL_ARG(notp_chash_from_json("{}", NULL));
  NULL_ARG(notp_chash_to_json(NULL, &text));
  NULL_ARG(notp_chash_to_json(ring, NULL));
  NULL_ARG(notp_chash_clone(NULL, &made_ring));
  NULL_ARG(notp_chash_clone(ring, NULL));
  NULL_ARG(notp_chash_rfactor(NULL, &u32));
  NULL_ARG(notp_chash_rfactor(ring, NULL));
  NULL_ARG(notp_chash_set_rfactor(NULL, 3));
  NULL_ARG(notp_chash_pfactor(NULL, &u32));
  NULL_ARG(notp_chash_pfactor(ring, NULL));
  NULL_ARG(notp_chash_set_pfactor(NULL, 2));
  NULL_ARG(notp_chash_size(NULL, &size));
  NULL_ARG(notp_chash_size(ring, NULL));
  NULL_ARG(notp_chash_number_nodes(NULL, &size));
  NULL_ARG(notp_chash_number_nodes(ring, NULL));
  NULL_ARG(notp_chash_weights(NULL, &text));
  NULL_ARG(notp_chash_weights(ring, NULL));
  NULL_ARG(notp_chash_weight(NULL, "foo", &u32));
  NULL_ARG(notp_chash_weight(ring, NULL, &u32));
  NULL_ARG(notp_chash_weight(ring, "foo", NULL));
  NULL_ARG(notp_chash_is_defined(NULL, "foo", &flag));
  NULL_ARG(notp_chash_is_defined(ring, NULL, &flag));
  NULL_ARG(notp_chash_is_defined(ring, "foo", NULL));
  NULL_ARG(notp_chash_insert(NULL, node, 0));
  NULL_ARG(notp_chash_insert(ring, NULL, 0));
  NULL_ARG(notp_chash_update(NULL, node, 1));
  NULL_ARG(notp_chash_update(ring, NULL, 1));
  NULL_ARG(notp_chash_remove(NULL, node));
  NULL_ARG(notp_chash_remove(ring, NULL));
  NULL_ARG(notp_chash_remove_id(NULL, "foo"));
  NULL_ARG(notp_chash_remove_id(ring, NULL));
  NULL_ARG(notp_chash_merge(NULL, ring));
  NULL_ARG(notp_chash_merge(ring, NULL));
  NULL_ARG(notp_chash_intersect(NULL, ring));
  NULL_ARG(notp_chash_intersect(ring, NULL));
  NULL_ARG(notp_chash_equals(NULL, ring, &flag));
  NULL_ARG(notp_chash_equals(ring, NULL, &flag));
  NULL_ARG(notp_chash_equals(ring, ring, NULL));
  NULL_ARG(notp_chash_get(NULL, "foo", &borrowed));
  NULL_ARG(notp_chash_get(ring, NULL, &borrowed));
  NULL_ARG(notp_chash_get(ring, "foo", NULL));
  NULL_ARG(notp_chash_find(NULL, key, 1, &borrowed));
  NULL_ARG(notp_chash_find(ring, NULL, 1, &borrowed));
  NULL_ARG(notp_chash_find(ring, key, 1, NULL));
  NULL_ARG(notp_chash_range_next(NULL, key, 1, 0, &made_list));
  NULL_ARG(notp_chash_range_next(ring, NULL, 1, 0, &made_list));
  NULL_ARG(notp_chash_range_next(ring, key, 1, 0, NULL));
  NULL_ARG(notp_chash_range_prev(NULL, key, 1, 0, &made_list));
  NULL_ARG(notp_chash_range_prev(ring, NULL, 1, 0, &made_list));
  NULL_ARG(notp_chash_range_prev(ring, key, 1, 0, NULL));
  NULL_ARG(notp_chash_next(NULL, node, 0, &made_list));
  NULL_ARG(notp_chash_next(ring, NULL, 0, &made_list));
  NULL_ARG(notp_chash_next(ring, node, 0, NULL));
  NULL_ARG(notp_chash_prev(NULL, node, 0, &made_list));
  NULL_ARG(notp_chash_prev(ring, NULL, 0, &made_list));
  NULL_ARG(notp_chash_prev(ring, node, 0, NULL));
  NULL_ARG(notp_chash_nodes(NULL, &made_list));
  NULL_ARG(notp_chash_nodes(ring, NULL));
  NULL_ARG(notp_hash_key(NULL, 1, &text));
  NULL_ARG(notp_hash_key(key, 1, NULL));
  NULL_ARG(notp_vnode_key(NULL, 1, &text));
  NULL_ARG(notp_vnode_key("foo", 1, NULL));

  NULL_ARG(notp_node_list_len(NULL, &size));
  NULL_ARG(notp_node_list_len(list, NULL));
  NULL_ARG(notp_node_list_get(NULL, 0, &borrowed));
  NULL_ARG(notp_node_list_get(list, 0, NULL));

  NULL_ARG(notp_chash_begin(NULL, &made_it));
  NULL_ARG(notp_chash_begin(ring, NULL));
  NULL_ARG(notp_chash_end(NULL, &made_it));
  NULL_ARG(notp_chash_end(ring, NULL));
  NULL_ARG(notp_chash_iterator(NULL, "k", &made_it));
  NULL_ARG(notp_chash_iterator(ring, NULL, &made_it));
  NULL_ARG(notp_chash_iterator(ring, "k", NULL));
  NULL_ARG(notp_ring_iter_valid(NULL, &flag));
  NULL_ARG(notp_ring_iter_valid(it, NULL));
  NULL_ARG(notp_ring_iter_index(NULL, &size));
  NULL_ARG(notp_ring_iter_index(it, NULL));
  NULL_ARG(notp_ring_iter_key(NULL, &text));
  NULL_ARG(notp_ring_iter_key(it, NULL));
  NULL_ARG(notp_ring_iter_value(NULL, &borrowed));
  NULL_ARG(notp_ring_iter_value(it, NULL));
  NULL_ARG(notp_ring_iter_has_next(NULL, &flag));
  NULL_ARG(notp_ring_iter_has_next(it, NULL));
  NULL_ARG(notp_ring_iter_has_prev(NULL, &flag));
  NULL_ARG(notp_ring_iter_has_prev(it, NULL));
  NULL_ARG(notp_ring_iter_next(NULL));
  NULL_ARG(notp_ring_iter_prev(NULL));

  NULL_ARG(notp_vclock_new(NULL));
  NULL_ARG(notp_vclock_with_actor(NULL, 1, &made_clock));
  NULL_ARG(notp_vclock_with_actor("a", 1, NULL));
  NULL_ARG(notp_vclock_from_json(NULL, &made_clock));
  NULL_ARG(notp_vclock_from_json("{}", NULL));
  NULL_ARG(notp_vclock_to_json(NULL, &text));
  NULL_ARG(notp_vclock_to_json(clock, NULL));
  NULL_ARG(notp_vclock_clone(NULL, &made_clock));
  NULL_ARG(notp_vclock_clone(clock, NULL));
  NULL_ARG(notp_vclock_insert(NULL, "a"));
  NULL_ARG(notp_vclock_insert(clock, NULL));
  NULL_ARG(notp_vclock_update(NULL, "a", 1));
  NULL_ARG(notp_vclock_update(clock, NULL, 1));
  NULL_ARG(notp_vclock_update_at(NULL, "a", 1, 1));
  NULL_ARG(notp_vclock_update_at(clock, NULL, 1, 1));
  NULL_ARG(notp_vclock_remove(NULL, "a"));
  NULL_ARG(notp_vclock_remove(clock, NULL));
  NULL_ARG(notp_vclock_increment(NULL, "a"));
  NULL_ARG(notp_vclock_increment(clock, NULL));
  NULL_ARG(notp_vclock_merge(NULL, clock));
  NULL_ARG(notp_vclock_merge(clock, NULL));
  NULL_ARG(notp_vclock_trim(NULL, 0, &opts));
  NULL_ARG(notp_vclock_trim(clock, 0, NULL));
  NULL_ARG(notp_vclock_get(NULL, "a", &entry));
  NULL_ARG(notp_vclock_get(clock, NULL, &entry));
  NULL_ARG(notp_vclock_get(clock, "a", NULL));
  NULL_ARG(notp_vclock_has(NULL, "a", &flag));
  NULL_ARG(notp_vclock_has(clock, NULL, &flag));
  NULL_ARG(notp_vclock_has(clock, "a", NULL));
  NULL_ARG(notp_vclock_descends(NULL, clock, &flag));
  NULL_ARG(notp_vclock_descends(clock, NULL, &flag));
  NULL_ARG(notp_vclock_descends(clock, clock, NULL));
  NULL_ARG(notp_vclock_equals(NULL, clock, &flag));
  NULL_ARG(notp_vclock_equals(clock, NULL, &flag));
  NULL_ARG(notp_vclock_equals(clock, clock, NULL));
  NULL_ARG(notp_vclock_nodes(NULL, &text));
  NULL_ARG(notp_vclock_nodes(clock, NULL));
  NULL_ARG(notp_vclock_size(NULL, &size));
  NULL_ARG(notp_vclock_size(clock, NULL));
  NULL_ARG(notp_vclock_max_insert(NULL, &u64));
  NULL_ARG(notp_vclock_max_insert(clock, NULL));

  /* every _free accepts NULL */
  notp_string_free(NULL);
  notp_node_free(NULL);
  notp_chash_free(NULL);
  notp_node_list_free(NULL);
  notp_ring_iter_free(NULL);
  notp_vclock_free(NULL);

  notp_node_list_free(list);
  notp_ring_iter_free(it);
  notp_vclock_free(clock);
  notp_node_free(node);
  notp_chash_free(ring);
}

static void test_library(void) {
  char want[64];
  snprintf(want, sizeof want, "%d.%d.%d", NOTP_VERSION_MAJOR, NOTP_VERSION_MINOR,
           NOTP_VERSION_PATCH);
  check(strcmp(notp_version(), want) == 0, "notp_version() %s, macros %s", notp_version(), want);
  uint64_t a = notp_now_micros(), b = notp_now_micros();
  check(a > 1500000000000000ULL && b >= a, "notp_now_micros() is µs since the epoch");
  check(notp_last_error() != NULL, "notp_last_error() is never NULL");
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s VECTORS_TSV\n", argv[0]);
    return 2;
  }
  test_library();
  test_vectors(argv[1]);
  test_node();
  test_ring_changes();
  test_ring_iterator();
  test_clock_json();
  test_clock_changes();
  test_clock_merge();
  test_clock_trim();
  test_bad_input();
  test_null_arguments();
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
