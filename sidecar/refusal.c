/* refusal: the list of refusal names a secondary accepts (see refusal.h). */
#include "refusal.h"

#include <string.h>

int refusal_known(const char *name)
{
	static const char *const names[] = {REFUSAL_AUTH,	   REFUSAL_INVALID,
					    REFUSAL_PAYLOAD_TOO_LARGE, REFUSAL_EXPORT_FAILED,
					    REFUSAL_NOT_PRIMARY,	   REFUSAL_UNAVAILABLE};

	for (size_t i = 0; name != NULL && i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(name, names[i]) == 0)
			return 1;
	}
	return 0;
}
