/* Fuzz target: payload_decode (the document a secondary parses after the
 * seal opened) and, for what it accepts, the encode/decode round trip. */
#include "payload.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct payload p, q;
	char err[256], *json;
	size_t len;

	if (payload_decode(data, size, &p, err, sizeof(err)) != 0)
		return 0;
	if (payload_encode(&p, &json, &len) == 0) {
		/* What we accepted must re-encode to something we accept again. */
		if (payload_decode((const uint8_t *)json, len, &q, err, sizeof(err)) != 0)
			abort();
		payload_free(&q);
		free(json);
	}
	payload_free(&p);
	return 0;
}
