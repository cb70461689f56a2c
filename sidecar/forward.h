/* forward: the OIDC back-channel forwarder for active/active sites. A
 * relying party's server calls /api/oidc/token, /userinfo and /introspect
 * from its own address, stuck to either site, but codes, refresh tokens,
 * device codes and (from Pocket ID v2.10) access tokens exist only on the
 * node that issued them. HAProxy sends these paths to a sidecar, which asks
 * its own Pocket ID first and, when the answer means "not issued here",
 * replays the request to the other nodes' Pocket ID (SYNC_FORWARD_PEERS) and
 * returns the first answer that does. Consent revocation (DELETE
 * /api/oidc/users/me/authorized-clients/ID) goes to every node: the consent
 * and its tokens live where it was granted. Bodies and time are bounded;
 * credentials pass through untouched and are never logged. It speaks
 * plain HTTP to the Pocket IDs (libevent's client); it does not route (the
 * HTTP server calls it) and knows nothing of sync. */
#ifndef PIS_FORWARD_H
#define PIS_FORWARD_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct evhttp_request;
struct forwarder;

enum forward_kind {
	FORWARD_TOKEN,	    /* POST /api/oidc/token */
	FORWARD_USERINFO,   /* GET or POST /api/oidc/userinfo */
	FORWARD_INTROSPECT, /* POST /api/oidc/introspect */
	FORWARD_REVOKE,	    /* DELETE /api/oidc/users/me/authorized-clients/ID: every node */
};

#define FORWARD_MAX_PEERS 8
#define FORWARD_MAX_BODY (64 * 1024)
#define FORWARD_TIMEOUT_SECONDS 10

/* local_url: this node's Pocket ID; peers: the other nodes' (http:// base
 * URLs, at most FORWARD_MAX_PEERS). Returns NULL with one line in err. */
struct forwarder *forward_new(struct event_base *base, const char *local_url,
			      const char *const *peers, size_t npeers, char *err, size_t errlen);
void forward_free(struct forwarder *f);
/* Takes over req (it answers it, later). */
void forward_handle(struct forwarder *f, struct evhttp_request *req, enum forward_kind kind);

/* Whether Pocket ID's answer means the token, code or device code was not
 * issued by that node (so another node may know it): a 400 whose JSON error
 * is invalid_grant (v2.10+) or one of the v1.x-v2.9 messages for an unknown
 * code, refresh token or device code -- never authorization_pending or
 * slow_down; a 401 from userinfo (v2.10+), or its 404 (v1.x-v2.9, which
 * read the consent of the node that granted it); {"active":false} from
 * introspect. */
bool forward_not_here(enum forward_kind kind, int status, const char *body, size_t len);
/* Splits a comma-separated list of base URLs (SYNC_FORWARD_PEERS) into
 * *out (malloc'd strings; caller frees each and the array). Every URL must
 * be http://host:port with no path. Returns the count, or -1 with err. */
int forward_parse_peers(const char *list, char ***out, char *err, size_t errlen);

#endif
