/* main.c: placeholder until the server lands. */
#include "log.h"

int main(void)
{
    log_info("ringcast");
    return 0;
}
