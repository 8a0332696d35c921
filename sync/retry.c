/*
 * Retry with exponential backoff and full jitter; see include/uco/retry.h.
 */
#include <uco/retry.h>

#include <errno.h>

#include <uco/task.h>
#include <uco/time.h>

#include "core/task.h"
#include "clock.h"

UCO_API void uco_retry_policy_init(uco_retry_policy *p)
{
	*p = (uco_retry_policy){
		.max_attempts = 5,
		.base_ns = 100 * UCO_NSEC_PER_MSEC,
		.max_delay_ns = 10 * UCO_NSEC_PER_SEC,
		.multiplier_pct = 200,
	};
}

UCO_API bool uco_retry_default_retryable(int err, void *ctx)
{
	(void)ctx;
	switch (err) {
	case -EAGAIN:
	case -EINTR:
	case -ETIMEDOUT:
	case -ECONNREFUSED:
	case -ECONNRESET:
	case -EBUSY:
		return true;
	default:
		return false;
	}
}


/* splitmix64: a 64-bit state, one addition and a mix per number. */
static uint64_t next_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, max], without modulo bias. */
static uint64_t random_upto(uint64_t *state, uint64_t max)
{
	uint64_t span, limit, x;

	if (max == UINT64_MAX)
		return next_random(state);
	span = max + 1;
	/* Reject the last partial block of 2^64 so every residue is equally
	 * likely: limit = 2^64 - (2^64 mod span). */
	limit = UINT64_MAX - (UINT64_MAX % span + 1) % span;
	do {
		x = next_random(state);
	} while (x > limit);
	return x % span;
}

/* cap * pct / 100, at most max (saturating). */
static uint64_t grow(uint64_t cap, unsigned pct, uint64_t max)
{
	uint64_t x;

	if (__builtin_mul_overflow(cap, (uint64_t)pct, &x))
		return max;
	x /= 100;
	return x < max ? x : max;
}

UCO_API int uco_retry(int (*op)(void *arg), void *arg,
		      const uco_retry_policy *policy)
{
	struct uco_task *self = uco__self();
	uco_retry_policy p;
	uint64_t (*now)(void *ctx);
	int (*sleep_until)(void *ctx, uint64_t deadline);
	bool (*retryable)(int err, void *ctx);
	uint64_t state, cap, start, end;

	if (!self)
		return -EPERM;
	if (policy)
		p = *policy;
	else
		uco_retry_policy_init(&p);
	if (!op || p.multiplier_pct < 100 || !p.base_ns)
		return -EINVAL;
	now = p.now ? p.now : uco__clock_now;
	sleep_until = p.sleep_until ? p.sleep_until : uco__clock_sleep_until;
	retryable = p.retryable ? p.retryable : uco_retry_default_retryable;
	start = now(p.clock_ctx);
	end = p.deadline_ns && p.deadline_ns < UINT64_MAX - start
		      ? start + p.deadline_ns
		      : UINT64_MAX;
	state = p.seed ? p.seed : start ^ (self->id * 0x9e3779b97f4a7c15ull);
	cap = p.base_ns < p.max_delay_ns || !p.max_delay_ns ? p.base_ns
							    : p.max_delay_ns;
	for (unsigned attempt = 1;; attempt++) {
		int r = op(arg);
		uint64_t delay, t;

		if (r >= 0 || r == -ECANCELED || !retryable(r, p.retryable_ctx))
			return r;
		if (p.max_attempts && attempt >= p.max_attempts)
			return r;
		delay = random_upto(&state, cap);
		t = now(p.clock_ctx);
		if (delay >= end - (t < end ? t : end))
			return r; /* the next attempt would start too late */
		int s = sleep_until(p.clock_ctx, t + delay);
		if (s < 0)
			return s;
		cap = grow(cap, p.multiplier_pct,
			   p.max_delay_ns ? p.max_delay_ns : UINT64_MAX);
	}
}
