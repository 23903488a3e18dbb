/* httpauth.c: the token of an HTTP request (see httpauth.h). */
#include "conn/httpauth.h"

#include "pubsub/auth.h"
#include "pubsub/claims.h"
#include "core/limits.h"
#include "conn/httpreply.h"
#include "core/shard.h"

bool httpauth_request(struct shard *sh, struct conn *c, const struct http_request *req,
                      const char *how_to_send, struct auth_token *token, struct claims **out)
{
    *out = NULL;
    auth_find_token(token, req);
    if (!sh->auth->enabled)
        return true;
    char message[512];
    if (auth_check_text(sh->auth, token->token, token->len, out, how_to_send, message,
                        sizeof(message)) == JWT_OK)
        return true;
    httpreply_error(sh, c, 401, "unauthorized", message,
                    "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n", false);
    return false;
}

bool httpauth_keep(struct shard *sh, struct conn *c, const struct http_request *req,
                   const char *how_to_send, struct auth_token *token, struct claims **out)
{
    if (!httpauth_request(sh, c, req, how_to_send, token, out))
        return false;
    struct limits_refusal refusal;
    if (limits_hold_subject(sh, c, *out, &refusal))
        return true;
    claims_free(*out);
    *out = NULL;
    httpreply_refusal(sh, c, &refusal, false);
    return false;
}
