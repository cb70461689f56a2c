/* protocol: the names of the HTTP exchange (proto/SPEC.md section 6) that
 * the primary and the secondary must spell alike: media types of the two
 * protocol versions and the v2 request and answer headers. */
#ifndef PIS_PROTOCOL_H
#define PIS_PROTOCOL_H

#define PROTOCOL_V1 "application/vnd.pocket-id-sync.v1"
#define PROTOCOL_V2 "application/vnd.pocket-id-sync.v2"
/* What a v2 secondary sends: both, v1 less preferred (for a v1 primary). */
#define PROTOCOL_ACCEPT PROTOCOL_V2 ", " PROTOCOL_V1 ";q=0.5"
#define PROTOCOL_BASE_HEADER "X-Pocket-Id-Sync-Base"
#define PROTOCOL_KIND_HEADER "X-Pocket-Id-Sync-Kind"

#endif
