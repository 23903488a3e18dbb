/* procstat.c: /proc/PID/stat and status (see procstat.h). */
#include "procstat.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "clock.h"

/* read_file reads a small /proc file into |buf|. Returns its length or -1. */
static long read_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "re");

    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return (long)n;
}

/* stat_cpu_ns reads utime and stime (fields 14 and 15) from a stat line.
 * The command name (field 2) may hold spaces and parentheses, so fields
 * are counted from the last ')'. */
static bool stat_cpu_ns(const char *line, uint64_t *out)
{
    const char *p = strrchr(line, ')');
    unsigned long long utime, stime;

    if (p == NULL)
        return false;
    /* after ')': state(3) ppid pgrp session tty_nr tpgid flags minflt
     * cminflt majflt cmajflt utime(14) stime(15) */
    if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) !=
        2)
        return false;
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0)
        hz = 100;
    *out = (uint64_t)(utime + stime) * (NS_PER_SEC / (uint64_t)hz);
    return true;
}

static bool status_rss_kib(const char *text, uint64_t *out)
{
    const char *p = strstr(text, "\nVmRSS:");
    unsigned long long kib;

    if (p == NULL || sscanf(p + 7, " %llu", &kib) != 1)
        return false;
    *out = kib;
    return true;
}

bool procstat_read(pid_t pid, struct procstat *out)
{
    char path[64], buf[4096];

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (read_file(path, buf, sizeof(buf)) < 0 || !stat_cpu_ns(buf, &out->cpu_ns))
        return false;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    if (read_file(path, buf, sizeof(buf)) < 0 || !status_rss_kib(buf, &out->rss_kib))
        return false;
    return true;
}

uint64_t procstat_self_cpu_ns(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * NS_PER_SEC +
           ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000;
}

/* thread_cpu_ns returns the calling thread's CPU time. */
static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

void cpu_window_tick(struct cpu_window *w, uint64_t now_ns, uint64_t start_ns, uint64_t end_ns)
{
    if (!w->started && start_ns != 0 && now_ns >= start_ns) {
        w->at_start_ns = thread_cpu_ns();
        w->started = true;
    }
    if (w->started && !w->ended && now_ns >= end_ns) {
        w->at_end_ns = thread_cpu_ns();
        w->ended = true;
    }
}

uint64_t cpu_window_ns(const struct cpu_window *w)
{
    return w->started && w->ended ? w->at_end_ns - w->at_start_ns : 0;
}
