/* Fuzz target: token_parse and dbconn_parse (strings from configuration). */
#include "dbconn.h"
#include "token.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bootstrap_token t;
	char *s = malloc(size + 1), *path, err[256];

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	token_parse(s, &t);
	if (dbconn_parse(s, &path, err, sizeof(err)) == 0)
		free(path);
	free(s);
	return 0;
}
