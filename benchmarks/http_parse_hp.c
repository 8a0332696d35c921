/* http-parser's half of benchmarks/http_parse.c (see there). */
#include <http_parser.h>

#include "http_parse.h"

/* ---- http-parser ---- */

static int hp_span(http_parser *p, const char *at, size_t len)
{
	struct sink *s = p->data;

	s->last = at;
	s->spans += len;
	return 0;
}

static int hp_body(http_parser *p, const char *at, size_t len)
{
	struct sink *s = p->data;

	s->last = at;
	s->body += len;
	return 0;
}

static int hp_done(http_parser *p)
{
	((struct sink *)p->data)->messages++;
	return 0;
}

int run_hp(long rounds, struct sink *s)
{
	http_parser_settings st;
	http_parser p;

	http_parser_settings_init(&st);
	st.on_url = hp_span;
	st.on_header_field = hp_span;
	st.on_header_value = hp_span;
	st.on_body = hp_body;
	st.on_message_complete = hp_done;
	http_parser_init(&p, HTTP_REQUEST);
	p.data = s;
	for (long i = 0; i < rounds; i++)
		if (http_parser_execute(&p, &st, mix, mix_len) !=
		    mix_len)
			return -1;
	return 0;
}

