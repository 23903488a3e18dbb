/* two_threads.h: for the unit tests that run two threads at once (include
 * after cmocka.h). */
#ifndef RC_TEST_TWO_THREADS_H
#define RC_TEST_TWO_THREADS_H

#include <pthread.h>
#include <unistd.h>

/* run_two_threads runs |first| and |second| on |arg| at once and returns
 * when both ended. A thread stuck for two minutes (a lost wake-up or
 * handoff) ends the test program with SIGALRM instead of hanging the run. */
static inline void run_two_threads(void *(*first)(void *), void *(*second)(void *), void *arg)
{
    pthread_t a, b;
    alarm(120);
    assert_int_equal(pthread_create(&a, NULL, first, arg), 0);
    assert_int_equal(pthread_create(&b, NULL, second, arg), 0);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    alarm(0);
}

#endif
