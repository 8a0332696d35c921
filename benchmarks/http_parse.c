/*
 * The HTTP/1.1 request parser uco builds in (llhttp 8.1, from Debian's
 * node-llhttp) against its predecessor http-parser 2.9.4
 * (libhttp-parser-dev), on the request mix an HTTP server sees: a
 * TechEmpower plaintext GET as wrk sends it, a browser GET with a dozen
 * headers and a cookie, a JSON POST with a Content-Length body, and a
 * chunked upload.  Both parsers get the same callbacks doing what uco's
 * server does with them: note each span's pointer and length, count body
 * bytes.  The mix is parsed as one pipelined buffer, as a server reading
 * a burst would.
 *
 *   RESULT group=http_parse name=request_mix impl=uco         unit=ns
 *   RESULT group=http_parse name=request_mix impl=http-parser unit=ns
 *
 * (ns per request, best of 5 runs.)  Under callgrind the instruction
 * counts are the repeatable figure: run with --callgrind-one
 * llhttp|http-parser to parse the mix a fixed 10,000 times with one parser.
 */
#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "http_parse.h"

const char mix[] =
	"GET /plaintext HTTP/1.1\r\n"
	"Host: localhost:8080\r\n"
	"Accept: text/plain,text/html;q=0.9,application/xhtml+xml;q=0.9,"
	"application/xml;q=0.8,*/*;q=0.7\r\n"
	"Connection: keep-alive\r\n"
	"\r\n"
	"GET /articles/2024/io-uring-servers?page=2&sort=new HTTP/1.1\r\n"
	"Host: www.example.org\r\n"
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:109.0) "
	"Gecko/20100101 Firefox/115.0\r\n"
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,"
	"image/avif,image/webp,*/*;q=0.8\r\n"
	"Accept-Language: en-GB,en;q=0.5\r\n"
	"Accept-Encoding: gzip, deflate, br\r\n"
	"Referer: https://www.example.org/articles/2024/\r\n"
	"Cookie: session=8f3c2a61d2b94e0f9b1c; theme=dark; "
	"_ga=GA1.2.1234567890.1700000000\r\n"
	"Upgrade-Insecure-Requests: 1\r\n"
	"Sec-Fetch-Dest: document\r\n"
	"Sec-Fetch-Mode: navigate\r\n"
	"Sec-Fetch-Site: same-origin\r\n"
	"If-Modified-Since: Tue, 05 Dec 2026 10:00:00 GMT\r\n"
	"Connection: keep-alive\r\n"
	"\r\n"
	"POST /api/v1/orders HTTP/1.1\r\n"
	"Host: api.example.org\r\n"
	"Content-Type: application/json\r\n"
	"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.x\r\n"
	"Content-Length: 64\r\n"
	"\r\n"
	"{\"item\":\"widget\",\"quantity\":3,\"price\":\"12.50\",\"note\":\"none\"}\n\n\n\n"
	"POST /upload HTTP/1.1\r\n"
	"Host: api.example.org\r\n"
	"Content-Type: application/octet-stream\r\n"
	"Transfer-Encoding: chunked\r\n"
	"\r\n"
	"10\r\n0123456789abcdef\r\n"
	"20\r\n0123456789abcdef0123456789abcdef\r\n"
	"0\r\n\r\n";
const size_t mix_len = sizeof(mix) - 1;
#define MIX_REQUESTS 4

/* ---- llhttp ---- */

static int ll_span(llhttp_t *p, const char *at, size_t len)
{
	struct sink *s = p->data;

	s->last = at;
	s->spans += len;
	return 0;
}

static int ll_body(llhttp_t *p, const char *at, size_t len)
{
	struct sink *s = p->data;

	s->last = at;
	s->body += len;
	return 0;
}

static int ll_done(llhttp_t *p)
{
	((struct sink *)p->data)->messages++;
	return 0;
}

static int run_llhttp(long rounds, struct sink *s)
{
	llhttp_settings_t st;
	llhttp_t p;

	llhttp_settings_init(&st);
	st.on_url = ll_span;
	st.on_header_field = ll_span;
	st.on_header_value = ll_span;
	st.on_body = ll_body;
	st.on_message_complete = ll_done;
	llhttp_init(&p, HTTP_REQUEST, &st);
	p.data = s;
	for (long i = 0; i < rounds; i++)
		if (llhttp_execute(&p, mix, sizeof(mix) - 1) != HPE_OK)
			return -1;
	return 0;
}


static double best_ns(int (*run)(long, struct sink *), long rounds,
		      const char *name)
{
	double best = 1e30;

	for (int rep = 0; rep < 5; rep++) {
		struct sink s = { 0 };
		uint64_t t0 = bench_now();

		if (run(rounds, &s) < 0 ||
		    s.messages != (size_t)rounds * MIX_REQUESTS ||
		    s.body != (size_t)rounds * (64 + 16 + 32)) {
			fprintf(stderr, "%s: the mix did not parse as expected\n",
				name);
			exit(1);
		}
		double ns = (double)(bench_now() - t0) /
			    ((double)rounds * MIX_REQUESTS);
		if (ns < best)
			best = ns;
	}
	return best;
}

int main(int argc, char **argv)
{
	long rounds = bench_quick(argc, argv) ? 50000 : 500000;

	if (argc == 3 && strcmp(argv[1], "--callgrind-one") == 0) {
		struct sink s = { 0 };
		int r = strcmp(argv[2], "llhttp") == 0 ? run_llhttp(10000, &s)
							: run_hp(10000, &s);
		printf("%zu messages\n", s.messages);
		return r < 0;
	}
	double ll = best_ns(run_llhttp, rounds, "llhttp");
	double hp = best_ns(run_hp, rounds, "http-parser");

	bench_result("http_parse", "request_mix", ll, "ns");
	printf("RESULT group=http_parse name=request_mix impl=http-parser "
	       "value=%.4g unit=ns\n", hp);
	return 0;
}
