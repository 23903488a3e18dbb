/* main.c: ringcast, the real-time event fan-out server. */
#include "util/config.h"
#include "util/log.h"
#include "app/server.h"

int main(int argc, char **argv)
{
    struct rc_config cfg;
    config_defaults(&cfg);
    int parsed = config_parse(&cfg, argc, argv);
    if (parsed != 0)
        return parsed > 0 ? 0 : 2;
    rc_log_set_level(cfg.log_level);
    return server_run(&cfg);
}
