/*
 * uco/generator.h — generators (asyncio's async generators and `async
 * for`): a producer task hands values one at a time to a consumer on the
 * same core.
 *
 *   static int count(uco_gen *g, void *arg)      // the producer
 *   {
 *       for (long i = 0; i < (long)arg; i++) {
 *           int r = uco_gen_yield(g, (void *)i);
 *           if (r < 0)
 *               return r;       // closed (-EPIPE) or cancelled: clean up, end
 *       }
 *       return 0;               // the end of the iteration
 *   }
 *
 *   uco_gen *g;
 *   void *v;
 *   uco_gen_start(&g, count, (void *)10);
 *   while ((r = uco_gen_next(g, &v)) == 1)       // async for v in count(10)
 *       use(v);
 *   uco_gen_close(g);                             // always, to free it
 *
 * The producer runs as its own task on the caller's core, on demand: its
 * body starts at the first uco_gen_next(), and each uco_gen_yield() hands a
 * value over and suspends the producer until the consumer asks for the next
 * one.  The producer may suspend on anything else in between (sleep, I/O).
 *
 * Closing early (aclose()): the producer's pending uco_gen_yield() returns
 * -EPIPE (asyncio's GeneratorExit), as does any later one; the producer
 * cleans up and returns.  If it is suspended elsewhere (not in a yield),
 * it is cancelled instead.  uco_gen_close() waits for it to end.
 *
 * Cancellation both ways:
 *   - the consumer cancelled (or timed out) in uco_gen_next(): the call
 *     returns -ECANCELED (-ETIMEDOUT) and the request stays: the value the
 *     producer yields for it is kept and returned by the next
 *     uco_gen_next(), so nothing is lost; closing drops it.
 *   - the producer cancelled (uco_cancel(uco_gen_task(g))): its current
 *     call, e.g. its yield, returns -ECANCELED, and whatever it returns is
 *     what uco_gen_next() reports.
 *
 * A generator is used on the core that started it, by one consumer task
 * at a time.
 */
#ifndef UCO_GENERATOR_H
#define UCO_GENERATOR_H

#include <uco/common.h>
#include <uco/task.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct uco_gen uco_gen;

/*
 * A producer: yields values with uco_gen_yield(g, ...) and returns 0 at the
 * end of the iteration or a negative errno for a failure (a positive
 * return counts as 0).
 */
typedef int (*uco_gen_fn)(uco_gen *g, void *arg);

/*
 * Start a generator on the caller's core: fn(g, arg) is spawned as a task,
 * which waits for the first uco_gen_next() before it calls fn.  Does not
 * suspend.  Returns 0, -EINVAL (fn NULL), -ENOMEM, -EPERM (not in a task).
 */
UCO_API int uco_gen_start(uco_gen **out, uco_gen_fn fn, void *arg);

/*
 * The next value.  Suspends (until the producer yields or ends).  Returns 1
 * with *value set; 0 at the end of the iteration (and again on every later
 * call); the producer's failure (its negative return); -ECANCELED /
 * -ETIMEDOUT if the caller was cancelled / timed out while waiting (see the
 * top of this file); -EBUSY if another task is waiting in uco_gen_next();
 * -EDEADLK if called by the producer; -EXDEV from another core; -EPERM.
 */
UCO_MUST_USE
UCO_API int uco_gen_next(uco_gen *g, void **value);

/*
 * Producer side: hand value to the consumer and suspend until it asks for
 * the next one.  Returns 0 (asked for the next), -EPIPE (closed: finish
 * up), -ECANCELED (the producer task was cancelled), -ETIMEDOUT (a timeout
 * scope of the producer expired), -EINVAL (not called by g's producer).
 * The value is handed over even when the call returns an error.
 */
UCO_MUST_USE
UCO_API int uco_gen_yield(uco_gen *g, void *value);

/*
 * Close g and free it (call it once for every generator started, even
 * after the end of the iteration).  Ends the producer as described at the
 * top and waits for it, shielded from the caller's cancellation and
 * timeouts (it has been told to stop): it suspends until the producer has
 * ended, and the caller's cancel or scope does not cut it short (a cancel
 * stays pending for the caller's next call).  A value yielded and not taken is
 * dropped.  Returns 0, or the producer's failure if it failed with
 * something other than -EPIPE / -ECANCELED while closing; -EDEADLK (called
 * by the producer), -EXDEV (other core) or -EPERM (not in a task), in which
 * cases nothing is done.  NULL is a no-op returning 0.
 */
UCO_MUST_USE
UCO_API int uco_gen_close(uco_gen *g);

/* The producer task (to cancel or name it); valid until uco_gen_close(),
 * and g keeps the reference (do not release it).  Does not suspend. */
UCO_API uco_task *uco_gen_task(const uco_gen *g);

/* True once the producer has ended (and its outcome is known).  Does not
 * suspend. */
UCO_API bool uco_gen_done(const uco_gen *g);

/*
 * agen.asend(send): hand `send` to the producer and take its next value.
 * The producer's pending uco_gen_yield_recv() gets `send` (and a producer
 * that has not started yet reads it with uco_gen_received() at its start:
 * Python wants None there; uco passes it on).  Otherwise exactly
 * uco_gen_next(): suspends, same results.  If a request cut short by a
 * cancel is still pending, the value it gets was produced for that one and
 * `send` is not delivered.
 */
UCO_MUST_USE
UCO_API int uco_gen_send(uco_gen *g, void *send, void **value);

/*
 * agen.athrow(err): the producer's pending yield returns err (negative)
 * instead of 0; the producer may yield another value (returned here as by
 * uco_gen_next(): 1), or end, and then its failure (or 0 at the end of the
 * iteration) is returned.  A generator not started yet never runs its body:
 * it ends with err, which is returned.  Suspends.  Returns what
 * uco_gen_next() returns, -EINVAL if err is not negative, -EBUSY if a value
 * is already waiting for the consumer (take it first).
 */
UCO_MUST_USE
UCO_API int uco_gen_throw(uco_gen *g, int err, void **value);

/*
 * Producer side of asend(): uco_gen_yield(), and on 0 *received gets what
 * the consumer passed to uco_gen_send() (NULL after uco_gen_next()).
 * received NULL: dropped.  Same results as uco_gen_yield().
 */
UCO_MUST_USE
UCO_API int uco_gen_yield_recv(uco_gen *g, void *value,
			       void **received);

/* Producer side: the value sent that started the body (the first
 * uco_gen_send()), once; NULL if none.  Does not suspend. */
UCO_API void *uco_gen_received(uco_gen *g);

#ifdef __cplusplus
}
#endif

#endif
