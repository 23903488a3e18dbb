/* log.h: leveled log lines on stderr, one write(2) per line. */
#ifndef RC_LOG_H
#define RC_LOG_H

enum rc_log_level { RC_LOG_ERROR, RC_LOG_WARN, RC_LOG_INFO, RC_LOG_DEBUG };

/* rc_log_set_level sets the most verbose level that is printed. */
void rc_log_set_level(enum rc_log_level level);

/* rc_log_parse_level maps "error", "warn", "info", "debug" to a level; -1 if unknown. */
int rc_log_parse_level(const char *name);

/* rc_log_set_thread_name names the calling thread in its log lines ("shard 3"). */
void rc_log_set_thread_name(const char *name);

/* rc_log_enabled tells whether |level| would be printed. */
int rc_log_enabled(enum rc_log_level level);

/* rc_log prints one line: time, level, thread name, message. */
void rc_log(enum rc_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) rc_log(RC_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) rc_log(RC_LOG_WARN, __VA_ARGS__)
#define log_info(...) rc_log(RC_LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (rc_log_enabled(RC_LOG_DEBUG))                                                          \
            rc_log(RC_LOG_DEBUG, __VA_ARGS__);                                                     \
    } while (0)

#endif
