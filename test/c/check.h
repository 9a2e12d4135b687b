/*
 * Reporting for the C test programs: check() counts a result and explains a
 * failure; OK/FAILS/NULL_ARG check library calls; same_text() compares and
 * frees a library string. Each program prints "N passed, M failed" last.
 */
#ifndef NOTP_TEST_CHECK_H
#define NOTP_TEST_CHECK_H

#include "libnotp.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* ---- reporting ---------------------------------------------------------- */

static int passed, failed;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static inline bool check(bool ok, const char *fmt, ...) {
  if (ok) {
    passed++;
    return true;
  }
  failed++;
  va_list ap;
  va_start(ap, fmt);
  fputs("FAIL: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return false;
}

/* A call that must succeed; on failure the library's message is shown. */
#define OK(call)                                                               \
  check((call) == NOTP_OK, "%s:%d: %s: %s", __FILE__, __LINE__, #call,         \
        notp_last_error())

/* A call that must fail with `status` and leave a message behind. */
#define FAILS(status, call)                                                    \
  do {                                                                         \
    notp_status_t got_ = (call);                                               \
    const char *msg_ = notp_last_error();                                      \
    check(got_ == (status) && msg_ != NULL && msg_[0] != '\0',                 \
          "%s:%d: %s: expected %s, got %d (message \"%s\")", __FILE__,         \
          __LINE__, #call, #status, (int)got_, msg_ ? msg_ : "(null)");        \
  } while (0)

#define NULL_ARG(call) FAILS(NOTP_ERR_NULL_ARGUMENT, call)

/* Compares a library string with the expected text, then frees it. */
static inline bool same_text(char *got, const char *want, const char *what) {
  bool ok = check(got != NULL && strcmp(got, want) == 0,
                  "%s: got \"%s\", want \"%s\"", what, got ? got : "(null)", want);
  notp_string_free(got);
  return ok;
}

#endif
