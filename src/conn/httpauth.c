/* httpauth.c: the token of an HTTP request (see httpauth.h). */
#include "conn/httpauth.h"

#include "pubsub/auth.h"
#include "conn/httpreply.h"
#include "core/shard.h"

bool httpauth_request(struct shard *sh, struct conn *c, const struct http_request *req,
                      struct auth_token *token, struct claims **out)
{
    *out = NULL;
    auth_find_token(token, req);
    if (!sh->auth->enabled)
        return true;
    char message[512];
    if (auth_check_text(sh->auth, token->token, token->len, out, message, sizeof(message)) ==
        JWT_OK)
        return true;
    httpreply_error(sh, c, 401, "unauthorized", message,
                    "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n", false);
    return false;
}
