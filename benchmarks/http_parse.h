/* What the two halves of the parser benchmark share (http_parse.c). */
#ifndef UCO_BENCH_HTTP_PARSE_H
#define UCO_BENCH_HTTP_PARSE_H

#include <stddef.h>

struct sink {
	const char *last;
	size_t spans, body, messages;
};

extern const char mix[];
extern const size_t mix_len;
int run_hp(long rounds, struct sink *s);

#endif
