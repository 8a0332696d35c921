#include <stdio.h>
#include <string.h>
#include <uco/uco.h>

static int handle_echo(uco_stream *s, void *arg)
{
	char data[256], host[64];
	ssize_t n = uco_stream_readline(s, data, sizeof data - 1);
	UCO_TRY_INT(n);
	UCO_TRY_INT(uco_stream_peername(s, host, sizeof host));
	*strrchr(host, ':') = '\0';
	printf("server: received '%.*s' from %s\n", (int)strcspn(data, "\n"), data, host);
	UCO_TRY_INT(uco_stream_send(s, data, (size_t)n));
	return 0;
}

static int client(uco_server *server, void *arg)
{
	uco_stream *s;
	UCO_TRY_INT(uco_open_connection_port(&s, "127.0.0.1", uco_server_port(server), NULL));
	UCO_TRY_INT(uco_stream_send(s, "Hello World!\n", 13));
	char data[256];
	ssize_t n = uco_stream_readline(s, data, sizeof data);
	printf("client: received '%.*s'\n", (int)strcspn(data, "\n"), n > 0 ? data : "");
	return uco_stream_close(s);
}

static void *amain(void *arg)
{
	uco_server *server;
	UCO_TRY(uco_start_server(&server, "127.0.0.1", "0", handle_echo, NULL, NULL));
	UCO_TRY(uco_server_with(server, client, NULL));
	puts("server closed");
	return arg;
}

int main(void) { return uco_run(amain, NULL, NULL, NULL) != 0; }
