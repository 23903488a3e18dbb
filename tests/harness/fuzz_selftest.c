/* A deliberately broken libFuzzer target for tests/integration/test_harness.py
 * (kept out of tests/fuzz/, which configure.py builds and tests/run fuzzes):
 * an input starting "CRASH" writes past a heap block, one starting "SPIN"
 * never returns. Everything else is fine. */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 5 && memcmp(data, "CRASH", 5) == 0) {
        volatile char *block = malloc(size);
        block[size] = data[0]; /* one past the end */
        free((char *)block);
    }
    if (size >= 4 && memcmp(data, "SPIN", 4) == 0) {
        for (volatile int spin = 1; spin;) {
        }
    }
    return 0;
}
