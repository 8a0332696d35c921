/*
 * uco/retry.h — retry an operation with exponential backoff and full
 * jitter.
 *
 *   static int connect_once(void *arg) { ...; return fd_or_negative_errno; }
 *
 *   uco_retry_policy p;
 *   uco_retry_policy_init(&p);          // 5 attempts, 100 ms .. 10 s, x2
 *   p.deadline_ns = 30 * UCO_NSEC_PER_SEC;
 *   int fd = uco_retry(connect_once, &addr, &p);
 *
 * uco_retry() calls op(arg) until it returns a non-negative result, or an
 * error the policy does not retry.  Before retry k (k = 1, 2, ...) it
 * sleeps a delay drawn uniformly from [0, cap_k] ("full jitter"), where
 * cap_1 = base_ns and each next cap is the last times multiplier_pct / 100,
 * at most max_delay_ns.  The random numbers come from a small generator
 * seeded per call (policy->seed, or the clock and the task's id when it is
 * 0): there is no global state, and a fixed seed gives a reproducible
 * schedule.  Integer arithmetic only (no floating point in a task: its
 * sticky flags would make every later context switch reload MXCSR).
 *
 * It stops
 *   - at once when op returns -ECANCELED (whatever the predicate says);
 *   - when op fails with an error the predicate says is not worth retrying
 *     (default: all but -EAGAIN, -EINTR, -ETIMEDOUT, -ECONNREFUSED,
 *     -ECONNRESET and -EBUSY);
 *   - after max_attempts calls, or when the next delay would end past the
 *     total deadline (deadline_ns after the first call): op's last error;
 *   - when its sleep is cut short: -ECANCELED (the task was cancelled) or
 *     -ETIMEDOUT (a timeout scope around the call expired; such a scope
 *     bounds the whole retry, each call of op included).
 *
 * The clock is injectable (now, sleep_until) so tests can check the
 * schedule without sleeping; both default to uco_now()/uco_sleep_until().
 */
#ifndef UCO_RETRY_H
#define UCO_RETRY_H

#include <uco/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct uco_retry_policy {
	unsigned max_attempts;   /* calls of op in all; 0 = no limit (5) */
	uint64_t base_ns;        /* the first retry's cap (100 ms) */
	uint64_t max_delay_ns;   /* no cap above this; 0 = no limit (10 s) */
	unsigned multiplier_pct; /* cap growth per retry, in percent; at
	                            least 100 (200: doubles) */
	uint64_t deadline_ns;    /* total budget from the first call; 0 = none (0) */
	/* Should err (negative) be retried?  NULL: the default set above. */
	bool (*retryable)(int err, void *ctx);
	void *retryable_ctx;
	uint64_t seed;           /* jitter seed; 0 = from the clock and task (0) */
	uint64_t (*now)(void *ctx);                       /* (uco_now) */
	int (*sleep_until)(void *ctx, uint64_t deadline); /* (uco_sleep_until) */
	void *clock_ctx;
} uco_retry_policy;

/* Fill p with the defaults in brackets above.  Does not suspend. */
UCO_API void uco_retry_policy_init(uco_retry_policy *p);

/* The default predicate: true for -EAGAIN, -EINTR, -ETIMEDOUT,
 * -ECONNREFUSED, -ECONNRESET, -EBUSY.  Does not suspend. */
UCO_API bool uco_retry_default_retryable(int err, void *ctx);

/*
 * Call op(arg) under policy (NULL: the defaults), as described at the top.
 * Suspends (in op, and between attempts).  Returns op's first non-negative
 * result, or the error that stopped it; -EINVAL (op NULL, multiplier_pct
 * below 100, base_ns 0); -EPERM outside a task.  Cancellation and timeout
 * scopes: see "It stops" above (-ECANCELED from op or from the wait ends
 * it at once).  arg is passed to op as it is and stays the caller's.
 */
UCO_MUST_USE
UCO_API int uco_retry(int (*op)(void *arg), void *arg,
		      const uco_retry_policy *policy);

#ifdef __cplusplus
}
#endif

#endif
