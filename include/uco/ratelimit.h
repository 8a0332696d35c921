/*
 * uco/ratelimit.h — a token-bucket rate limiter: `rate` tokens per
 * `period_ns`, up to `burst` kept.
 *
 * The bucket refills continuously (rate / period_ns tokens per nanosecond,
 * exactly: the arithmetic is integer, no rounding drift) and starts full
 * unless opts.start_empty.  uco_ratelimit_acquire(rl, n) takes n tokens,
 * waiting as long as needed: waiters are served first come, first served,
 * and only the first in line sleeps — once, with a single sleep_until to
 * the exact moment its tokens are there; the others wait their turn.  No
 * waiter holds tokens while it waits, so one that leaves (cancelled, timed
 * out) gives its place back: the next in line computes its own time from
 * the bucket as it is.
 *
 * The clock is injectable for tests: opts.now returns nanoseconds, and
 * opts.sleep_until(ctx, t) waits until now() >= t (returning 0, or
 * -ECANCELED / -ETIMEDOUT to abandon the wait).  Both default to uco_now()
 * and uco_sleep_until() (CLOCK_MONOTONIC, the loop's timer heap).
 *
 * Per core: a limiter is used by tasks of the core that created it (no
 * atomics); other cores get -EXDEV.
 */
#ifndef UCO_RATELIMIT_H
#define UCO_RATELIMIT_H

#include <uco/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct uco_ratelimit uco_ratelimit;

/* Options for uco_ratelimit_create(); NULL or zeroed means the defaults. */
typedef struct uco_ratelimit_opts {
	bool start_empty;                     /* start with no tokens (full) */
	uint64_t (*now)(void *ctx);           /* the clock (uco_now) */
	int (*sleep_until)(void *ctx, uint64_t deadline); /* (uco_sleep_until) */
	void *clock_ctx;                      /* passed to both */
} uco_ratelimit_opts;

/*
 * Create a limiter on the caller's core.  Does not suspend.  Returns 0
 * with *out set, to free with uco_ratelimit_free(); -EINVAL (rate,
 * period_ns or burst 0, or burst * period_ns + rate beyond 2^64), -ENOMEM,
 * -EPERM (outside the runtime).
 */
UCO_API int uco_ratelimit_create(uco_ratelimit **out, uint64_t rate,
				 uint64_t period_ns, uint64_t burst,
				 const uco_ratelimit_opts *opts);

/*
 * Take n tokens, waiting in line as long as needed.  Suspends (unless the
 * tokens are there and nobody waits).  Returns 0; -EINVAL if n > burst (it
 * could never be served); -ECANCELED / -ETIMEDOUT (cancelled, a timeout
 * scope expired, or the injected sleep said so) with nothing taken;
 * -EXDEV, -EPERM.  n == 0 returns 0 at once.
 */
UCO_MUST_USE
UCO_API int uco_ratelimit_acquire(uco_ratelimit *rl, uint64_t n);

/*
 * Take n tokens if they are there and nobody waits (no jumping the line).
 * Does not suspend.  Returns 0, -EAGAIN, -EINVAL (n > burst), -EXDEV,
 * -EPERM.
 */
UCO_API int uco_ratelimit_try_acquire(uco_ratelimit *rl, uint64_t n);

/* Whole tokens in the bucket now (waiters not counted).  Does not
 * suspend. */
UCO_API uint64_t uco_ratelimit_tokens(uco_ratelimit *rl);

/* Free rl.  Does not suspend.  Nobody may be waiting (checked: that
 * aborts with a message).  NULL is a no-op. */
UCO_API void uco_ratelimit_free(uco_ratelimit *rl);

#ifdef __cplusplus
}
#endif

#endif
