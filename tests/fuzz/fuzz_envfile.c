/* Fuzz target: envfile_parse (operators' env files and Pocket ID's .env). */
#include "envfile.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct envmap m;
	char err[256];

	envmap_init(&m);
	envfile_parse(&m, (const char *)data, size, "fuzz", err, sizeof(err));
	envmap_free(&m);
	return 0;
}
