/* The checks shared by the C SDK's error-path tests (errors.c,
 * remote_errors.c): each failed check prints its line and counts in
 * `failures`; main returns non-zero when any failed. */
#ifndef PSTOR_TEST_EXPECT_H
#define PSTOR_TEST_EXPECT_H

#include <stdio.h>

#include "pstor.h"

static int failures = 0;

/* Checks that `got` is `want` and that a message is available for it. */
static void expect_at(pstor_result got, pstor_result want, const char *what, int line) {
  char msg[256];
  size_t n = 0;
  pstor_result r = pstor_result_message(got, msg, sizeof msg, &n);
  if (got != want || r != PSTOR_OK || (got != PSTOR_OK && n == 0)) {
    fprintf(stderr, "line %d: %s: got %u (%s), want %u\n", line, what, (unsigned)got, msg, (unsigned)want);
    failures++;
  } else if (got != PSTOR_OK) {
    printf("%-58s %3u %s\n", what, (unsigned)got, msg);
  }
}
#define EXPECT(call, want) expect_at((call), (want), #call, __LINE__)
#define OK(call) expect_at((call), PSTOR_OK, #call, __LINE__)
#define TRUE(cond)                                                 \
  do {                                                             \
    if (!(cond)) {                                                 \
      fprintf(stderr, "line %d: not true: %s\n", __LINE__, #cond); \
      failures++;                                                  \
    }                                                              \
  } while (0)

#endif
