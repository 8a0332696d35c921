/*
 * The context switch: the only place where one stack is left for another.
 *
 * A context is a saved stack pointer plus the bounds of its stack (for the
 * sanitizers).  uco__switch() is a few lines of assembly per architecture
 * (switch_x86_64.S, switch_aarch64.S); uco__ctx_switch() wraps it with the
 * AddressSanitizer fiber annotations, which compile to nothing otherwise.
 */
#ifndef UCO_CORE_SWITCH_H
#define UCO_CORE_SWITCH_H

#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define UCO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UCO_ASAN 1
#endif
#endif

#ifdef UCO_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

#if defined(__SANITIZE_THREAD__)
#define UCO_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UCO_TSAN 1
#endif
#endif

#ifdef UCO_TSAN
/* ThreadSanitizer keeps a shadow call stack and a vector clock per thread;
 * every context is a fiber of its own for it, and each switch says which
 * one runs now (with synchronisation: what one context did before a switch
 * happens before what the next one does, as on one thread it does). */
#include <sanitizer/tsan_interface.h>
#endif

/* A context that can be switched to and from. */
struct uco__ctx {
	void *sp;          /* saved stack pointer while not running */
	void *stack_lo;    /* lowest usable byte of its stack (NULL: thread stack) */
	size_t stack_size; /* usable bytes above stack_lo */
#ifdef UCO_ASAN
	void *asan_fake;   /* ASan's fake-stack handle while switched out */
#endif
#ifdef UCO_TSAN
	void *tsan_fiber;  /* TSan's fiber (NULL: a thread's own context, not
	                      yet switched from) */
#endif
};

/* Assembly: save the running context into *save_sp, resume load_sp. */
void uco__switch(void **save_sp, void *load_sp);

/* Assembly: resume load_sp, saving nothing (the running context is done). */
__attribute__((noreturn)) void uco__switch_exit(void *load_sp);

/*
 * Prepare ctx to run entry(arg) on [lo, lo + size) the first time it is
 * switched to.  entry must never return; it ends by switching away with
 * uco__ctx_exit().
 */
void uco__ctx_init(struct uco__ctx *ctx, void *lo, size_t size,
		   void (*entry)(void *), void *arg);

/* Switch from the running context `from` to `to`. */
static inline void uco__ctx_switch(struct uco__ctx *from, struct uco__ctx *to)
{
#ifdef UCO_TSAN
	if (!from->tsan_fiber) /* a loop's own context, on its thread */
		from->tsan_fiber = __tsan_get_current_fiber();
	__tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
#ifdef UCO_ASAN
	__sanitizer_start_switch_fiber(&from->asan_fake, to->stack_lo,
				       to->stack_size);
	uco__switch(&from->sp, to->sp);
	__sanitizer_finish_switch_fiber(from->asan_fake, NULL, NULL);
#else
	uco__switch(&from->sp, to->sp);
#endif
}

/*
 * Leave `from` for the last time (uco__switch_exit: nothing of it is
 * saved); ASan may free its fake stack.
 */
static inline void uco__ctx_exit(struct uco__ctx *from, struct uco__ctx *to)
{
#ifdef UCO_TSAN
	/* TSan runs `to` from here on, so `from`'s fiber may go (what is left
	 * of this function touches nothing of it). */
	void *dead = from->tsan_fiber;

	__tsan_switch_to_fiber(to->tsan_fiber, 0);
	__tsan_destroy_fiber(dead);
#endif
#ifdef UCO_ASAN
	__sanitizer_start_switch_fiber(NULL, to->stack_lo, to->stack_size);
#endif
	(void)from;
	uco__switch_exit(to->sp);
}

/*
 * First thing a new context's entry function calls, so ASan learns it has
 * arrived on the new stack.
 */
static inline void uco__ctx_started(struct uco__ctx *self)
{
#ifdef UCO_ASAN
	__sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
	(void)self;
}

#endif
