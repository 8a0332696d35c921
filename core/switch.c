/*
 * Building the first frame of a new context.  The frame layout is the one
 * the architecture's uco__switch pops; see the table at the top of
 * switch_x86_64.S and switch_aarch64.S.
 */
#include "switch.h"

#include <stdint.h>
#include <string.h>

/* Inside uco__ctx_start, past its landing pad and one more instruction:
 * a return address there is inside the function for an unwinder, which
 * looks up (return address - 1), and the CFI there says "outermost". */
extern void *const uco__ctx_resume_at;

#if defined(__x86_64__)

void uco__ctx_init(struct uco__ctx *ctx, void *lo, size_t size,
		   void (*entry)(void *), void *arg)
{
	/* Once uco__switch has popped this frame and its resume address,
	 * rsp must be 16-byte aligned so uco__ctx_start's call enters
	 * `entry` aligned. */
	uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
	uint64_t *f = (uint64_t *)(top - 64);
	uint32_t mxcsr;
	uint16_t fpucw;

	/* Inherit the creator's FP control state, as a new thread would. */
	__asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
	__asm__ volatile("fnstcw %0" : "=m"(fpucw));
	memset(f, 0, 64);
	memcpy(&f[0], &mxcsr, 4);
	memcpy((char *)&f[0] + 4, &fpucw, 2);
	f[1] = (uint64_t)(uintptr_t)entry; /* r12 */
	f[2] = (uint64_t)(uintptr_t)arg;   /* r13 */
	f[7] = (uint64_t)(uintptr_t)uco__ctx_resume_at;
	ctx->sp = f;
	ctx->stack_lo = lo;
	ctx->stack_size = size;
#ifdef UCO_TSAN
	ctx->tsan_fiber = __tsan_create_fiber(0);
#endif
}

#elif defined(__aarch64__)

void uco__ctx_init(struct uco__ctx *ctx, void *lo, size_t size,
		   void (*entry)(void *), void *arg)
{
	/* Frame of switch_aarch64.S: d8-d15 (64 bytes), x19-x28 (80), x29,
	 * x30 (16), fpcr (8) + pad (8) = 176 bytes; sp stays 16-aligned. */
	uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
	uint64_t *f = (uint64_t *)(top - 176);
	uint64_t fpcr;

	__asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
	memset(f, 0, 176);
	f[8] = (uint64_t)(uintptr_t)entry; /* x19 */
	f[9] = (uint64_t)(uintptr_t)arg;   /* x20 */
	f[19] = (uint64_t)(uintptr_t)uco__ctx_resume_at; /* x30 */
	f[20] = fpcr;
	ctx->sp = f;
	ctx->stack_lo = lo;
	ctx->stack_size = size;
#ifdef UCO_TSAN
	ctx->tsan_fiber = __tsan_create_fiber(0);
#endif
}

#else
#error "uco: no context switch for this architecture"
#endif
