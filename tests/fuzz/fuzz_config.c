/* fuzz_config.c - libFuzzer target: arbitrary bytes through the config
 * parser.  Every input ends in a configuration or a one-line error, and
 * a parsed configuration dumps to YAML that parses back equal. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heapwatch/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hw_config c, back;
	struct hw_err e;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (hw_config_parse_buffer("fuzz.yaml", (const char *)data, size, &c, &e) < 0) {
		if (strchr(e.msg, '\n'))
			abort(); /* errors are one line */
		hw_config_fini(&c);
		return 0;
	}
	f = open_memstream(&text, &len);
	if (f) {
		hw_config_dump(f, &c);
		fclose(f);
		if (hw_config_parse_buffer("dump.yaml", text, len, &back, &e) < 0 ||
		    hw_config_diff(&c, &back, NULL, 0) != 0)
			abort(); /* the dump must read back to the same config */
		hw_config_fini(&back);
		free(text);
	}
	hw_config_fini(&c);
	return 0;
}
