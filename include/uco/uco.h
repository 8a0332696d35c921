/*
 * uco.h — everything.  An io_uring-based async runtime: stackful coroutines
 * on one completion loop per core, and asyncio's toolbox on top.
 */
#ifndef UCO_H
#define UCO_H

#include <errno.h> /* every uco error is a negative errno: ECANCELED, ETIMEDOUT... */

#include <uco/common.h>
#include <uco/error.h>
#include <uco/runtime.h>
#include <uco/stats.h>
#include <uco/task.h>
#include <uco/time.h>
#include <uco/callback.h>
#include <uco/combine.h>
#include <uco/group.h>
#include <uco/future.h>
#include <uco/offload.h>
#include <uco/local.h>
#include <uco/queue.h>
#include <uco/lock.h>
#include <uco/semaphore.h>
#include <uco/event.h>
#include <uco/condition.h>
#include <uco/barrier.h>
#include <uco/channel.h>
#include <uco/generator.h>
#include <uco/ratelimit.h>
#include <uco/retry.h>
#include <uco/pool.h>
#include <uco/file.h>
#include <uco/copy.h>
#include <uco/net.h>
#include <uco/poll.h>
#include <uco/process.h>
#include <uco/procpool.h>
#include <uco/signal.h>
#include <uco/stream.h>
#include <uco/server.h>
#include <uco/pg.h>
#include <uco/tls.h>
#include <uco/http.h>
#include <uco/http_client.h>

#endif
