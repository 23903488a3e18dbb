/* A tiny sanitized program for tests/integration/test_harness.py: argv[1]
 * picks what it does, like a tool's start-up or error path would.
 *   clean         exits 1 without a bug (an ordinary error path)
 *   leak          leaks a block, exits 1
 *   ubsan         overflows a signed int, exits 1
 *   overflow      writes past a heap block, exits 1
 *   leak-exit-0   a recoverable leak check reports a leak; the block is
 *                 then reachable again and the program exits 0 */
#include <limits.h>
#include <sanitizer/lsan_interface.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HIDE ((uintptr_t)0x5a5a5a5a5a5a5a5a)

void *reachable;

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "leak") == 0) {
        char *block = malloc(64);
        snprintf(block, 64, "%s", mode);
        block = NULL;
    } else if (strcmp(mode, "ubsan") == 0) {
        int x = INT_MAX - 1 + argc; /* argc is 2: INT_MAX + 1 */
        printf("%d\n", x);
    } else if (strcmp(mode, "overflow") == 0) {
        char *block = malloc(8);
        block[6 + argc] = 1; /* block[8] */
        free(block);
    } else if (strcmp(mode, "leak-exit-0") == 0) {
        volatile uintptr_t hidden = (uintptr_t)malloc(32) ^ HIDE;
        int leaks = __lsan_do_recoverable_leak_check();
        reachable = (void *)(hidden ^ HIDE);
        printf("leaks: %d\n", leaks);
        return 0;
    } else if (strcmp(mode, "clean") != 0) {
        fprintf(stderr, "usage: san_selftest clean|leak|ubsan|overflow|leak-exit-0\n");
        return 2;
    }
    return 1;
}
