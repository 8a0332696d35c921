/*
 * Standalone test of the context switch: core/switch.c plus the
 * architecture's core/switch_<arch>.S, nothing else from uco.  Plain libc, so
 * the same file builds natively on x86-64 and with a cross compiler for
 * aarch64 (run under qemu-user by tools/cross-aarch64):
 *
 *   cc -O2 -std=gnu17 -Wall -Wextra -Werror -I core \
 *      tests/switch_cross.c core/switch.c core/switch_<arch>.S
 *
 * Every test runs in a child process, so a crash in one is reported as that
 * test failing and the others still run; XT_NOFORK=1 runs them in-process
 * (for a debugger) and stops at the first failure.  A failed check prints
 * what was expected and exits 1.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "switch.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#ifdef UCO_ASAN
#include <pthread.h>
#endif
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__)
#define XT_ARCH "x86_64"
#elif defined(__aarch64__)
#define XT_ARCH "aarch64"
#else
#error "switch_cross: no context switch for this architecture"
#endif

/* ------------------------------------------------------------------ */
/* Checks                                                             */
/* ------------------------------------------------------------------ */

static const char *xt_test = "?"; /* name of the running test */

static void xt_fail(const char *file, int line, const char *cond,
		    const char *fmt, ...) __attribute__((noreturn, format(printf, 4, 5)));

static void xt_fail(const char *file, int line, const char *cond,
		    const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "switch_cross: FAIL %s (%s): %s:%d: check `%s` failed: ",
		xt_test, XT_ARCH, file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	exit(1);
}

/* ASSERT(condition, printf-format, args...): fail the test unless true. */
#define ASSERT(cond, ...)                                                      \
	do {                                                                  \
		if (!(cond))                                                  \
			xt_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);      \
	} while (0)

/* Hide a value from the optimiser so it cannot reason about it. */
#define XT_LAUNDER(v) __asm__ volatile("" : "+r"(v))

static uint64_t xt_mix(uint64_t x) /* splitmix64 finaliser */
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* ------------------------------------------------------------------ */
/* Stacks: mmap'ed, with a PROT_NONE guard page below                 */
/* ------------------------------------------------------------------ */

#define XT_STACK (64 * 1024)

struct xt_stack {
	unsigned char *map;   /* whole mapping: guard page, then the stack */
	size_t map_len;
	unsigned char *lo;    /* lowest usable byte */
	size_t size;          /* usable bytes */
	size_t page;
};

static void xt_stack_new(struct xt_stack *s, size_t size)
{
	long pg = sysconf(_SC_PAGESIZE);

	ASSERT(pg > 0, "sysconf(_SC_PAGESIZE) = %ld", pg);
	s->page = (size_t)pg;
	s->size = (size + s->page - 1) / s->page * s->page;
	s->map_len = s->size + s->page;
	s->map = mmap(NULL, s->map_len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
		      -1, 0);
	ASSERT(s->map != MAP_FAILED, "mmap of %zu bytes: %s", s->map_len,
	      strerror(errno));
	ASSERT(mprotect(s->map, s->page, PROT_NONE) == 0, "mprotect guard: %s",
	      strerror(errno));
	s->lo = s->map + s->page;
}

static void xt_stack_free(struct xt_stack *s)
{
	ASSERT(munmap(s->map, s->map_len) == 0, "munmap: %s", strerror(errno));
	s->map = NULL;
}

static void xt_ctx_new(struct uco__ctx *ctx, struct xt_stack *s,
		       void (*entry)(void *), void *arg)
{
	xt_stack_new(s, XT_STACK);
	uco__ctx_init(ctx, s->lo, s->size, entry, arg);
}

/* ------------------------------------------------------------------ */
/* Architecture helpers (assembly, so the compiler cannot interfere)  */
/* ------------------------------------------------------------------ */

/*
 * uint64_t xt_regcheck(void **save_sp, void *load_sp, uint64_t seed):
 * fills every callee-saved register with a value derived from seed, calls
 * uco__switch(save_sp, load_sp) and, once switched back to, compares each
 * register with what it was set to.  Returns a bit mask of the registers
 * that changed (0 = all survived).  Its own caller's registers are
 * preserved as the ABI demands.
 *
 * uintptr_t xt_caller_sp(void): the stack pointer of the caller at the call
 * instruction, which the ABI requires to be 16-byte aligned.
 */
uint64_t xt_regcheck(void **save_sp, void *load_sp, uint64_t seed);
uintptr_t xt_caller_sp(void);

#if defined(__x86_64__)

#if defined(__CET__)
#define XT_ENDBR "endbr64\n\t"
#else
#define XT_ENDBR ""
#endif

/* Bits of xt_regcheck's result. */
static const char *const xt_reg_names[] = {
	"rbx", "rbp", "r12", "r13", "r14", "r15",
};

/* Register k holds seed * (2k + 3): odd multipliers keep them distinct. */
#define XT_CMP(reg, mul, bit)                                                 \
	"imulq $" #mul ", %rdx, %rcx\n\t"                                     \
	"cmpq %rcx, " reg "\n\t"                                              \
	"setne %cl\n\t"                                                       \
	"movzbl %cl, %ecx\n\t"                                                \
	"shll $" #bit ", %ecx\n\t"                                            \
	"orl %ecx, %eax\n\t"

__asm__(
	".pushsection .text\n\t"
	".p2align 4\n\t"
	".globl xt_regcheck\n\t"
	".hidden xt_regcheck\n\t"
	".type xt_regcheck, @function\n"
	"xt_regcheck:\n\t"
	XT_ENDBR
	"pushq %rbp\n\t"
	"pushq %rbx\n\t"
	"pushq %r12\n\t"
	"pushq %r13\n\t"
	"pushq %r14\n\t"
	"pushq %r15\n\t"
	"pushq %rdx\n\t"              /* the seed; rsp is now 16-aligned */
	"imulq $3, %rdx, %rbx\n\t"
	"imulq $5, %rdx, %rbp\n\t"
	"imulq $7, %rdx, %r12\n\t"
	"imulq $9, %rdx, %r13\n\t"
	"imulq $11, %rdx, %r14\n\t"
	"imulq $13, %rdx, %r15\n\t"
	"call uco__switch\n\t"        /* rdi, rsi are still save_sp, load_sp */
	"movq (%rsp), %rdx\n\t"
	"xorl %eax, %eax\n\t"
	XT_CMP("%rbx", 3, 0)
	XT_CMP("%rbp", 5, 1)
	XT_CMP("%r12", 7, 2)
	XT_CMP("%r13", 9, 3)
	XT_CMP("%r14", 11, 4)
	XT_CMP("%r15", 13, 5)
	"popq %rdx\n\t"
	"popq %r15\n\t"
	"popq %r14\n\t"
	"popq %r13\n\t"
	"popq %r12\n\t"
	"popq %rbx\n\t"
	"popq %rbp\n\t"
	"ret\n\t"
	".size xt_regcheck, .-xt_regcheck\n\t"
	"\n\t"
	".p2align 4\n\t"
	".globl xt_caller_sp\n\t"
	".hidden xt_caller_sp\n\t"
	".type xt_caller_sp, @function\n"
	"xt_caller_sp:\n\t"
	XT_ENDBR
	"leaq 8(%rsp), %rax\n\t"      /* rsp before `call` pushed the return */
	"ret\n\t"
	".size xt_caller_sp, .-xt_caller_sp\n\t"
	".popsection\n");

/* Overwrite every vector register with junk (all are caller-saved). */
static inline void xt_clobber_fp(uint64_t junk)
{
	__asm__ volatile(
		"movq %0, %%xmm0\n\t"  "movq %0, %%xmm1\n\t"
		"movq %0, %%xmm2\n\t"  "movq %0, %%xmm3\n\t"
		"movq %0, %%xmm4\n\t"  "movq %0, %%xmm5\n\t"
		"movq %0, %%xmm6\n\t"  "movq %0, %%xmm7\n\t"
		"movq %0, %%xmm8\n\t"  "movq %0, %%xmm9\n\t"
		"movq %0, %%xmm10\n\t" "movq %0, %%xmm11\n\t"
		"movq %0, %%xmm12\n\t" "movq %0, %%xmm13\n\t"
		"movq %0, %%xmm14\n\t" "movq %0, %%xmm15\n\t"
		: : "r"(junk)
		: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
		  "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13",
		  "xmm14", "xmm15");
}

/*
 * FP control state: MXCSR control bits (flags masked off) in the low half,
 * the x87 control word in the high half.  Four modes, each with its own
 * rounding direction, flush-to-zero setting and x87 precision.
 */
#define XT_MXCSR_FLAGS 0x3fu
static uint64_t xt_fpctl_get(void)
{
	uint32_t mx;
	uint16_t cw;

	__asm__ volatile("stmxcsr %0" : "=m"(mx));
	__asm__ volatile("fnstcw %0" : "=m"(cw));
	return (uint64_t)cw << 32 | (mx & ~XT_MXCSR_FLAGS);
}

static void xt_fpctl_set(uint64_t v)
{
	uint32_t mx, cur;
	uint16_t cw = (uint16_t)(v >> 32);

	__asm__ volatile("stmxcsr %0" : "=m"(cur));
	mx = ((uint32_t)v & ~XT_MXCSR_FLAGS) | (cur & XT_MXCSR_FLAGS);
	__asm__ volatile("ldmxcsr %0" : : "m"(mx));
	__asm__ volatile("fldcw %0" : : "m"(cw));
}

static uint64_t xt_fpctl_mode(uint64_t base, int m)
{
	/* rounding: 0 nearest, 1 down, 2 up, 3 toward zero (SSE and x87) */
	static const uint32_t rc[4] = { 0, 3, 2, 1 };
	static const uint32_t pc[4] = { 3, 2, 0, 2 }; /* x87 precision */
	uint32_t mx = (uint32_t)base & ~(0x6000u | 0x8000u);
	uint32_t cw = (uint32_t)(base >> 32) & ~(0x0c00u | 0x0300u);

	mx |= rc[m] << 13;
	if (m & 1)
		mx |= 0x8000u; /* FTZ */
	cw |= rc[m] << 10 | pc[m] << 8;
	return (uint64_t)cw << 32 | mx;
}

#elif defined(__aarch64__)

#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
#define XT_BTI "bti c\n\t"
#else
#define XT_BTI ""
#endif

static const char *const xt_reg_names[] = {
	"x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28",
	"x29", "d8", "d9", "d10", "d11", "d12", "d13", "d14", "d15",
};

/* General register k holds seed rotated right by k + 1. */
#define XT_CMPX(reg, rot, bit)                                                \
	"ror x9, x2, #" #rot "\n\t"                                           \
	"cmp " reg ", x9\n\t"                                                 \
	"cset x10, ne\n\t"                                                    \
	"orr x0, x0, x10, lsl #" #bit "\n\t"
/* d8-d15 hold seed rotated right by 12..19. */
#define XT_CMPD(reg, rot, bit)                                                \
	"fmov x11, " reg "\n\t"                                               \
	"ror x9, x2, #" #rot "\n\t"                                           \
	"cmp x11, x9\n\t"                                                     \
	"cset x10, ne\n\t"                                                    \
	"orr x0, x0, x10, lsl #" #bit "\n\t"
#define XT_SETD(reg, rot)                                                     \
	"ror x9, x2, #" #rot "\n\t"                                           \
	"fmov " reg ", x9\n\t"

__asm__(
	".pushsection .text\n\t"
	".p2align 4\n\t"
	".globl xt_regcheck\n\t"
	".hidden xt_regcheck\n\t"
	".type xt_regcheck, %function\n"
	"xt_regcheck:\n\t"
	XT_BTI
	"stp x29, x30, [sp, #-176]!\n\t"
	"stp x19, x20, [sp, #16]\n\t"
	"stp x21, x22, [sp, #32]\n\t"
	"stp x23, x24, [sp, #48]\n\t"
	"stp x25, x26, [sp, #64]\n\t"
	"stp x27, x28, [sp, #80]\n\t"
	"stp d8, d9, [sp, #96]\n\t"
	"stp d10, d11, [sp, #112]\n\t"
	"stp d12, d13, [sp, #128]\n\t"
	"stp d14, d15, [sp, #144]\n\t"
	"str x2, [sp, #160]\n\t"      /* the seed */
	"ror x19, x2, #1\n\t"
	"ror x20, x2, #2\n\t"
	"ror x21, x2, #3\n\t"
	"ror x22, x2, #4\n\t"
	"ror x23, x2, #5\n\t"
	"ror x24, x2, #6\n\t"
	"ror x25, x2, #7\n\t"
	"ror x26, x2, #8\n\t"
	"ror x27, x2, #9\n\t"
	"ror x28, x2, #10\n\t"
	"ror x29, x2, #11\n\t"
	XT_SETD("d8", 12) XT_SETD("d9", 13) XT_SETD("d10", 14)
	XT_SETD("d11", 15) XT_SETD("d12", 16) XT_SETD("d13", 17)
	XT_SETD("d14", 18) XT_SETD("d15", 19)
	"bl uco__switch\n\t"          /* x0, x1 are still save_sp, load_sp */
	"ldr x2, [sp, #160]\n\t"
	"mov x0, xzr\n\t"
	XT_CMPX("x19", 1, 0) XT_CMPX("x20", 2, 1) XT_CMPX("x21", 3, 2)
	XT_CMPX("x22", 4, 3) XT_CMPX("x23", 5, 4) XT_CMPX("x24", 6, 5)
	XT_CMPX("x25", 7, 6) XT_CMPX("x26", 8, 7) XT_CMPX("x27", 9, 8)
	XT_CMPX("x28", 10, 9) XT_CMPX("x29", 11, 10)
	XT_CMPD("d8", 12, 11) XT_CMPD("d9", 13, 12) XT_CMPD("d10", 14, 13)
	XT_CMPD("d11", 15, 14) XT_CMPD("d12", 16, 15) XT_CMPD("d13", 17, 16)
	XT_CMPD("d14", 18, 17) XT_CMPD("d15", 19, 18)
	"ldp d14, d15, [sp, #144]\n\t"
	"ldp d12, d13, [sp, #128]\n\t"
	"ldp d10, d11, [sp, #112]\n\t"
	"ldp d8, d9, [sp, #96]\n\t"
	"ldp x27, x28, [sp, #80]\n\t"
	"ldp x25, x26, [sp, #64]\n\t"
	"ldp x23, x24, [sp, #48]\n\t"
	"ldp x21, x22, [sp, #32]\n\t"
	"ldp x19, x20, [sp, #16]\n\t"
	"ldp x29, x30, [sp], #176\n\t"
	"ret\n\t"
	".size xt_regcheck, .-xt_regcheck\n\t"
	"\n\t"
	".p2align 4\n\t"
	".globl xt_caller_sp\n\t"
	".hidden xt_caller_sp\n\t"
	".type xt_caller_sp, %function\n"
	"xt_caller_sp:\n\t"
	XT_BTI
	"mov x0, sp\n\t"
	"ret\n\t"
	".size xt_caller_sp, .-xt_caller_sp\n\t"
	".popsection\n");

/* Overwrite every SIMD/FP register, all 128 bits, with junk. */
static inline void xt_clobber_fp(uint64_t junk)
{
	__asm__ volatile(
		"dup v0.2d, %x0\n\t"  "dup v1.2d, %x0\n\t"
		"dup v2.2d, %x0\n\t"  "dup v3.2d, %x0\n\t"
		"dup v4.2d, %x0\n\t"  "dup v5.2d, %x0\n\t"
		"dup v6.2d, %x0\n\t"  "dup v7.2d, %x0\n\t"
		"dup v8.2d, %x0\n\t"  "dup v9.2d, %x0\n\t"
		"dup v10.2d, %x0\n\t" "dup v11.2d, %x0\n\t"
		"dup v12.2d, %x0\n\t" "dup v13.2d, %x0\n\t"
		"dup v14.2d, %x0\n\t" "dup v15.2d, %x0\n\t"
		"dup v16.2d, %x0\n\t" "dup v17.2d, %x0\n\t"
		"dup v18.2d, %x0\n\t" "dup v19.2d, %x0\n\t"
		"dup v20.2d, %x0\n\t" "dup v21.2d, %x0\n\t"
		"dup v22.2d, %x0\n\t" "dup v23.2d, %x0\n\t"
		"dup v24.2d, %x0\n\t" "dup v25.2d, %x0\n\t"
		"dup v26.2d, %x0\n\t" "dup v27.2d, %x0\n\t"
		"dup v28.2d, %x0\n\t" "dup v29.2d, %x0\n\t"
		"dup v30.2d, %x0\n\t" "dup v31.2d, %x0\n\t"
		: : "r"(junk)
		: "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9",
		  "v10", "v11", "v12", "v13", "v14", "v15", "v16", "v17",
		  "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25",
		  "v26", "v27", "v28", "v29", "v30", "v31");
}

/* FP control state: FPCR.  Four modes: rounding direction and FZ. */
static uint64_t xt_fpctl_get(void)
{
	uint64_t v;

	__asm__ volatile("mrs %0, fpcr" : "=r"(v));
	return v;
}

static void xt_fpctl_set(uint64_t v)
{
	__asm__ volatile("msr fpcr, %0" : : "r"(v));
}

static uint64_t xt_fpctl_mode(uint64_t base, int m)
{
	/* RMode: 0 nearest, 3 toward zero, 1 up (+inf), 2 down (-inf) */
	static const uint64_t rmode[4] = { 0, 3, 1, 2 };
	uint64_t v = base & ~(3ull << 22 | 1ull << 24);

	v |= rmode[m] << 22;
	if (m & 1)
		v |= 1ull << 24; /* FZ */
	return v;
}

#endif

#define XT_NREGS (sizeof xt_reg_names / sizeof xt_reg_names[0])

static void xt_check_mask(uint64_t mask, const char *who, int iter)
{
	char names[256] = "";

	if (mask == 0)
		return;
	for (size_t i = 0; i < XT_NREGS; i++) {
		if (mask & (1ull << i)) {
			strncat(names, " ", sizeof names - strlen(names) - 1);
			strncat(names, xt_reg_names[i],
				sizeof names - strlen(names) - 1);
		}
	}
	ASSERT(mask == 0, "%s, switch %d: callee-saved registers changed:%s",
	      who, iter, names);
}

/* ------------------------------------------------------------------ */
/* 1. Ping-pong: main addresses 3 coroutines in a pseudo-random order  */
/* ------------------------------------------------------------------ */

#define STAR_CO 3
#define STAR_ROUNDS 30000

static struct uco__ctx star_main, star_co[STAR_CO];
static struct {
	int to;                     /* coroutine main is addressing */
	int done;                   /* main is finished: exit */
	int round;
	uint64_t value;             /* main -> coroutine */
	uint64_t reply;             /* coroutine -> main */
	uint64_t seen[STAR_CO];     /* final counts, written on exit */
	uint64_t acc[STAR_CO];      /* final accumulators */
	unsigned char log[STAR_ROUNDS]; /* who handled each round */
} star;

static uint64_t star_step(uint64_t acc, uint64_t value)
{
	return acc * 6364136223846793005ull + value;
}

static void star_entry(void *arg)
{
	struct uco__ctx *self = arg;
	int id = (int)(self - star_co);
	uint64_t seen = 0, acc = (uint64_t)(id + 1) * 0x9e3779b97f4a7c15ull;

	uco__ctx_started(self);
	/* acc and seen live in this frame (or callee-saved registers) across
	 * every switch; main keeps a model of them. */
	while (!star.done) {
		ASSERT(star.to == id, "coroutine %d resumed for round %d, "
		      "which main addressed to %d", id, star.round, star.to);
		star.log[star.round] = (unsigned char)id;
		acc = star_step(acc, star.value);
		seen++;
		star.reply = acc ^ seen;
		uco__ctx_switch(self, &star_main);
	}
	star.seen[id] = seen;
	star.acc[id] = acc;
	uco__ctx_exit(self, &star_main);
}

static void test_pingpong_star(void)
{
	struct xt_stack st[STAR_CO];
	uint64_t model_acc[STAR_CO], model_seen[STAR_CO] = { 0 };
	unsigned char who[STAR_ROUNDS];
	uint64_t rng = 12345;

	for (int i = 0; i < STAR_CO; i++) {
		xt_ctx_new(&star_co[i], &st[i], star_entry, &star_co[i]);
		model_acc[i] = (uint64_t)(i + 1) * 0x9e3779b97f4a7c15ull;
	}
	for (int r = 0; r < STAR_ROUNDS; r++) {
		int to;

		rng = xt_mix(rng);
		to = (int)(rng % STAR_CO);
		who[r] = (unsigned char)to;
		star.to = to;
		star.round = r;
		star.value = rng;
		star.reply = 0;
		uco__ctx_switch(&star_main, &star_co[to]);
		model_acc[to] = star_step(model_acc[to], rng);
		model_seen[to]++;
		ASSERT(star.reply == (model_acc[to] ^ model_seen[to]),
		      "round %d: coroutine %d replied %#" PRIx64
		      ", expected %#" PRIx64, r, to, star.reply,
		      model_acc[to] ^ model_seen[to]);
	}
	star.done = 1;
	for (int i = 0; i < STAR_CO; i++) {
		star.to = -1;
		uco__ctx_switch(&star_main, &star_co[i]);
		ASSERT(star.seen[i] == model_seen[i] && star.acc[i] == model_acc[i],
		      "coroutine %d finished with %" PRIu64 " rounds, expected %"
		      PRIu64, i, star.seen[i], model_seen[i]);
		xt_stack_free(&st[i]);
	}
	for (int r = 0; r < STAR_ROUNDS; r++)
		ASSERT(star.log[r] == who[r], "round %d handled by %d, not %d", r,
		      star.log[r], who[r]);
	for (int i = 0; i < STAR_CO; i++)
		ASSERT(model_seen[i] > STAR_ROUNDS / STAR_CO / 2,
		      "coroutine %d ran only %" PRIu64 " times", i, model_seen[i]);
}

/* ------------------------------------------------------------------ */
/* 2. Ring: main -> c1 -> c2 -> c3 -> c4 -> main, coroutine to coroutine */
/* ------------------------------------------------------------------ */

#define RING_CO 4
#define RING_LAPS 20000

static struct uco__ctx ring_ctx[RING_CO + 1]; /* [0] is main */
static struct {
	int expect;        /* whose turn it is */
	int lap;           /* main's lap counter */
	int done;
	size_t n;
	unsigned char log[(RING_CO + 1) * (RING_LAPS + 1)];
} ring;

static void ring_entry(void *arg)
{
	struct uco__ctx *self = arg;
	int id = (int)(self - ring_ctx);
	struct uco__ctx *next = &ring_ctx[(id + 1) % (RING_CO + 1)];
	int laps = 0;

	uco__ctx_started(self);
	for (;;) {
		ASSERT(ring.expect == id, "coroutine %d ran when %d was due", id,
		      ring.expect);
		ASSERT(ring.lap == laps, "coroutine %d on lap %d, main on %d", id,
		      laps, ring.lap);
		ring.log[ring.n++] = (unsigned char)id;
		ring.expect = (id + 1) % (RING_CO + 1);
		laps++;
		if (ring.done)
			uco__ctx_exit(self, next); /* pass the baton and end */
		uco__ctx_switch(self, next);
	}
}

static void test_pingpong_ring(void)
{
	struct xt_stack st[RING_CO + 1];

	for (int i = 1; i <= RING_CO; i++)
		xt_ctx_new(&ring_ctx[i], &st[i], ring_entry, &ring_ctx[i]);
	for (int lap = 0; lap <= RING_LAPS; lap++) {
		ASSERT(ring.expect == 0, "main ran when %d was due", ring.expect);
		ring.lap = lap;
		ring.log[ring.n++] = 0;
		ring.expect = 1;
		if (lap == RING_LAPS)
			ring.done = 1; /* the last lap ends every coroutine */
		uco__ctx_switch(&ring_ctx[0], &ring_ctx[1]);
	}
	ASSERT(ring.n == sizeof ring.log, "%zu entries logged, expected %zu",
	      ring.n, sizeof ring.log);
	for (size_t i = 0; i < ring.n; i++)
		ASSERT((size_t)ring.log[i] == i % (RING_CO + 1),
		      "entry %zu of the log is %d, expected %zu", i, ring.log[i],
		      i % (RING_CO + 1));
	for (int i = 1; i <= RING_CO; i++)
		xt_stack_free(&st[i]);
}

/* ------------------------------------------------------------------ */
/* 3. Callee-saved registers, checked in assembly                     */
/* ------------------------------------------------------------------ */

#define REG_ITERS 20000

static struct uco__ctx reg_ctx[3]; /* main, A, B: a ring */
static int reg_done;

static uint64_t reg_seed(int who, int i)
{
	return xt_mix((uint64_t)who << 32 | (uint32_t)i) | 1;
}

/* uco__ctx_switch, but through xt_regcheck. */
static uint64_t reg_switch(struct uco__ctx *from, struct uco__ctx *to,
			   uint64_t seed)
{
	uint64_t mask;

#ifdef UCO_ASAN
	__sanitizer_start_switch_fiber(&from->asan_fake, to->stack_lo,
				       to->stack_size);
#endif
	mask = xt_regcheck(&from->sp, to->sp, seed);
#ifdef UCO_ASAN
	__sanitizer_finish_switch_fiber(from->asan_fake, NULL, NULL);
#endif
	return mask;
}

static void reg_entry(void *arg)
{
	struct uco__ctx *self = arg;
	int id = (int)(self - reg_ctx);
	struct uco__ctx *next = &reg_ctx[(id + 1) % 3];
	const char *who = id == 1 ? "coroutine A" : "coroutine B";

	uco__ctx_started(self);
	for (int i = 0;; i++) {
		uint64_t mask;

		/* Junk in every FP register, then our own patterns in the
		 * callee-saved ones, then switch. */
		xt_clobber_fp(xt_mix((uint64_t)i + 77));
		mask = reg_switch(self, next, reg_seed(id, i));
		xt_check_mask(mask, who, i);
		if (reg_done)
			uco__ctx_exit(self, next);
	}
}

static void test_callee_saved(void)
{
	struct xt_stack st[3];

	for (int i = 1; i < 3; i++)
		xt_ctx_new(&reg_ctx[i], &st[i], reg_entry, &reg_ctx[i]);
	for (int i = 0; i < REG_ITERS; i++) {
		uint64_t mask = reg_switch(&reg_ctx[0], &reg_ctx[1],
					   reg_seed(0, i));

		xt_check_mask(mask, "main", i);
	}
	reg_done = 1;
	uco__ctx_switch(&reg_ctx[0], &reg_ctx[1]); /* A then B check and end */
	for (int i = 1; i < 3; i++)
		xt_stack_free(&st[i]);
}

/* ------------------------------------------------------------------ */
/* 4. Floating-point locals survive switches to an FP-clobbering peer  */
/* ------------------------------------------------------------------ */

#define FP_ITERS 4000

static struct uco__ctx fp_main, fp_worker, fp_clobber;
static volatile double fp_seed = 1.0000001;
static int fp_yield;    /* switch to the clobberer inside fp_work */
static int fp_done;
static uint64_t fp_result;
static uint64_t fp_clobber_runs;

static uint64_t xt_bits(double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof u);
	return u;
}

static __attribute__((noinline)) void fp_pause(void)
{
	if (fp_yield)
		uco__ctx_switch(&fp_worker, &fp_clobber);
}

/*
 * Ten doubles live across every call to fp_pause(): on aarch64 the compiler
 * keeps eight of them in d8-d15, on x86-64 (no callee-saved vector
 * registers) it spills them to the stack.  Either way a switch must not
 * disturb them; the result is compared bit for bit with a run that never
 * switches.
 */
static __attribute__((noinline)) uint64_t fp_work(double s, int iters)
{
	double a = s, b = s * 1.5, c = s + 0.25, d = s * s, e = 1.0 / s;
	double f = s - 0.125, g = s * 3.0, h = s + 2.0, k = 0.5 * s, m = s / 7.0;

	for (int i = 0; i < iters; i++) {
		a = a * 0.999 + b * 0.001;
		b = b * 0.998 + c * 0.002;
		c = c * 0.997 + d * 0.003;
		d = d * 0.996 + e * 0.004;
		e = e * 0.995 + f * 0.005;
		fp_pause();
		f = f * 0.994 + g * 0.006;
		g = g * 0.993 + h * 0.007;
		h = h * 0.992 + k * 0.008;
		k = k * 0.991 + m * 0.009;
		m = m * 0.990 + a * 0.010;
		fp_pause();
	}
	return xt_bits(a) ^ xt_bits(b) * 3 ^ xt_bits(c) * 5 ^ xt_bits(d) * 7 ^
	       xt_bits(e) * 11 ^ xt_bits(f) * 13 ^ xt_bits(g) * 17 ^
	       xt_bits(h) * 19 ^ xt_bits(k) * 23 ^ xt_bits(m) * 29;
}

static void fp_worker_entry(void *arg)
{
	uco__ctx_started(&fp_worker);
	fp_result = fp_work(*(volatile double *)arg, FP_ITERS);
	fp_done = 1;
	uco__ctx_exit(&fp_worker, &fp_main);
}

static void fp_clobber_entry(void *arg)
{
	/* Its own FP work in locals, with different values, so its registers
	 * hold something else whenever it switches back. */
	double x = *(volatile double *)arg, y = x * 7.0, z = x - 3.0;

	uco__ctx_started(&fp_clobber);
	for (uint64_t i = 0;; i++) {
		x = x * 1.0001 + y;
		y = y * 0.5 - z;
		z = z + x * 1e-9;
		xt_clobber_fp(xt_mix(i) | 0x7ff0000000000001ull); /* NaNs */
		fp_clobber_runs++;
		uco__ctx_switch(&fp_clobber, &fp_worker);
		ASSERT(!fp_done, "clobberer resumed after the worker finished");
		XT_LAUNDER(x);
		XT_LAUNDER(y);
		XT_LAUNDER(z);
	}
}

static void test_fp_locals(void)
{
	struct xt_stack sw, sc;
	double seed = fp_seed, other = 42.5;
	uint64_t expect;

	fp_yield = 0;
	expect = fp_work(seed, FP_ITERS);
	fp_yield = 1;
	xt_ctx_new(&fp_worker, &sw, fp_worker_entry, &seed);
	xt_ctx_new(&fp_clobber, &sc, fp_clobber_entry, &other);
	uco__ctx_switch(&fp_main, &fp_worker);
	ASSERT(fp_done, "the FP worker did not finish");
	ASSERT(fp_clobber_runs == 2 * FP_ITERS, "clobberer ran %" PRIu64
	      " times, expected %d", fp_clobber_runs, 2 * FP_ITERS);
	ASSERT(fp_result == expect, "FP result with switches %#" PRIx64
	      " differs from the one without %#" PRIx64, fp_result, expect);
	xt_stack_free(&sw);
	xt_stack_free(&sc);
}

/* ------------------------------------------------------------------ */
/* 5. FP control register (FPCR / MXCSR + x87 CW) is per context      */
/* ------------------------------------------------------------------ */

#define FPC_CO 3
#define FPC_ROUNDS 2000
#define FPC_MODES 4

static volatile double fpc_one = 1.0, fpc_two = 2.0, fpc_three = 3.0;
static volatile double fpc_tiny = 0x1p-1022, fpc_four = 4.0;

struct fpc_probe {
	uint64_t v[4];
};

/* Results that depend on the rounding direction and flush-to-zero. */
static void fpc_probe(struct fpc_probe *p)
{
	volatile double r;

	r = fpc_one / fpc_three;
	p->v[0] = xt_bits(r);
	r = -fpc_one / fpc_three;
	p->v[1] = xt_bits(r);
	r = fpc_two / fpc_three;
	p->v[2] = xt_bits(r);
	r = fpc_tiny / fpc_four; /* subnormal, or 0 under flush-to-zero */
	p->v[3] = xt_bits(r);
}

static struct uco__ctx fpc_main, fpc_co[FPC_CO + 1]; /* [FPC_CO]: nested */
static uint64_t fpc_ctl[FPC_MODES]; /* raw control value of each mode */
static struct fpc_probe fpc_ref[FPC_MODES];
static struct xt_stack fpc_nested_stack;
static int fpc_done;

/* round < 0 names a moment instead: -1 at entry, -2 after the nested one. */
static void fpc_expect(int mode, const char *who, int round)
{
	char when[32];
	struct fpc_probe p;
	uint64_t now = xt_fpctl_get();

	if (round == -1)
		snprintf(when, sizeof when, "at entry");
	else if (round == -2)
		snprintf(when, sizeof when, "after its child ran");
	else
		snprintf(when, sizeof when, "round %d", round);
	ASSERT(now == fpc_ctl[mode], "%s, %s: FP control %#" PRIx64
	      ", expected mode %d = %#" PRIx64, who, when, now, mode,
	      fpc_ctl[mode]);
	fpc_probe(&p);
	ASSERT(memcmp(&p, &fpc_ref[mode], sizeof p) == 0,
	      "%s, %s: arithmetic does not round as mode %d: 1/3 = %#"
	      PRIx64 " (expected %#" PRIx64 "), tiny/4 = %#" PRIx64
	      " (expected %#" PRIx64 ")", who, when, mode, p.v[0],
	      fpc_ref[mode].v[0], p.v[3], fpc_ref[mode].v[3]);
}

static void fpc_nested_entry(void *arg)
{
	int mode = (int)(intptr_t)arg;

	uco__ctx_started(&fpc_co[FPC_CO]);
	fpc_expect(mode, "nested coroutine", -1); /* inherited */
	xt_fpctl_set(fpc_ctl[0]);
	fpc_expect(0, "nested coroutine after setting mode 0", 0);
	uco__ctx_exit(&fpc_co[FPC_CO], &fpc_co[FPC_CO - 1]);
}

static void fpc_entry(void *arg)
{
	int id = (int)(intptr_t)arg; /* coroutine id = its mode (1..3) */
	struct uco__ctx *self = &fpc_co[id - 1];
	struct uco__ctx *next = id == FPC_CO ? &fpc_main : &fpc_co[id];
	char who[32];

	uco__ctx_started(self);
	snprintf(who, sizeof who, "coroutine %d", id);
	/* Created while main was in mode `id`: inherited it. */
	fpc_expect(id, who, -1);
	if (id == FPC_CO) {
		/* A context created by a coroutine inherits the coroutine's
		 * mode, and changing its own leaves ours alone. */
		xt_ctx_new(&fpc_co[FPC_CO], &fpc_nested_stack, fpc_nested_entry,
			   (void *)(intptr_t)id);
		uco__ctx_switch(self, &fpc_co[FPC_CO]);
		fpc_expect(id, who, -2);
		xt_stack_free(&fpc_nested_stack);
	}
	for (int r = 0;; r++) {
		fpc_expect(id, who, r);
		if (fpc_done)
			uco__ctx_exit(self, next);
		uco__ctx_switch(self, next);
	}
}

static void test_fp_control(void)
{
	uint64_t base = xt_fpctl_get();
	struct xt_stack st[FPC_CO];

	/* The expected arithmetic of each mode, measured here. */
	for (int m = 0; m < FPC_MODES; m++) {
		fpc_ctl[m] = xt_fpctl_mode(base, m);
		xt_fpctl_set(fpc_ctl[m]);
		ASSERT(xt_fpctl_get() == fpc_ctl[m], "mode %d did not stick: %#"
		      PRIx64 " != %#" PRIx64, m, xt_fpctl_get(), fpc_ctl[m]);
		fpc_probe(&fpc_ref[m]);
	}
	for (int m = 0; m < FPC_MODES; m++)
		for (int n = m + 1; n < FPC_MODES; n++)
			ASSERT(memcmp(&fpc_ref[m], &fpc_ref[n],
				     sizeof fpc_ref[m]) != 0,
			      "modes %d and %d compute alike: the test cannot "
			      "tell them apart", m, n);
	/* Coroutine i is created while main is in mode i. */
	for (int i = 1; i <= FPC_CO; i++) {
		xt_fpctl_set(fpc_ctl[i]);
		xt_ctx_new(&fpc_co[i - 1], &st[i - 1], fpc_entry,
			   (void *)(intptr_t)i);
	}
	xt_fpctl_set(fpc_ctl[0]);
	for (int r = 0; r < FPC_ROUNDS; r++) {
		if (r == FPC_ROUNDS - 1)
			fpc_done = 1;
		uco__ctx_switch(&fpc_main, &fpc_co[0]); /* round the ring */
		fpc_expect(0, "main", r);
	}
	for (int i = 0; i < FPC_CO; i++)
		xt_stack_free(&st[i]);
	xt_fpctl_set(base);
}

/* ------------------------------------------------------------------ */
/* 6. Deep recursion: 48 KiB of frames on a 64 KiB guarded stack       */
/* ------------------------------------------------------------------ */

#define DEEP_TARGET (48 * 1024)
#define DEEP_BUF 448
#define DEEP_PAUSES 3

static struct uco__ctx deep_main, deep_co;
static uintptr_t deep_top, deep_low;
static int deep_depth = -1;
static uint64_t deep_result;

static unsigned char deep_byte(int depth, size_t i)
{
	return (unsigned char)(depth * 131 + (int)i * 7 + 1);
}

static __attribute__((noinline)) uint64_t deep_rec(int depth)
{
	volatile unsigned char buf[DEEP_BUF];
	uintptr_t here = (uintptr_t)&buf[0];
	uint64_t sum = 0, r = 0;

	for (size_t i = 0; i < DEEP_BUF; i++)
		buf[i] = deep_byte(depth, i);
	if (here < deep_low)
		deep_low = here;
	if (deep_top - here < DEEP_TARGET) {
		r = deep_rec(depth + 1);
	} else {
		/* At the bottom: leave the stack several times while main
		 * scribbles over its own stack and registers. */
		deep_depth = depth;
		for (int k = 0; k < DEEP_PAUSES; k++)
			uco__ctx_switch(&deep_co, &deep_main);
	}
	for (size_t i = 0; i < DEEP_BUF; i++) {
		ASSERT(buf[i] == deep_byte(depth, i), "frame %d byte %zu is %d, "
		      "expected %d", depth, i, buf[i], deep_byte(depth, i));
		sum += buf[i];
	}
	return r + sum + (uint64_t)depth;
}

static void deep_entry(void *arg)
{
	(void)arg;
	uco__ctx_started(&deep_co);
	deep_result = deep_rec(0);
	uco__ctx_exit(&deep_co, &deep_main);
}

static __attribute__((noinline)) void deep_scribble(int k)
{
	volatile unsigned char junk[32 * 1024];

	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (unsigned char)(i * 13 + (size_t)k);
	xt_clobber_fp(xt_mix((uint64_t)k));
}

static void test_deep_recursion(void)
{
	struct xt_stack st;
	uint64_t expect = 0;

	xt_ctx_new(&deep_co, &st, deep_entry, NULL);
	deep_top = (uintptr_t)st.lo + st.size;
	deep_low = deep_top;
	for (int k = 0; k < DEEP_PAUSES; k++) {
		uco__ctx_switch(&deep_main, &deep_co);
		ASSERT(deep_depth > 0, "coroutine did not reach the bottom");
		deep_scribble(k);
	}
	uco__ctx_switch(&deep_main, &deep_co); /* unwind and finish */
	ASSERT(deep_top - deep_low >= DEEP_TARGET, "only %zu bytes of stack used",
	      (size_t)(deep_top - deep_low));
	ASSERT(deep_low >= (uintptr_t)st.lo, "frames below the stack?");
	for (int d = 0; d <= deep_depth; d++) {
		expect += (uint64_t)d;
		for (size_t i = 0; i < DEEP_BUF; i++)
			expect += deep_byte(d, i);
	}
	ASSERT(deep_result == expect, "recursion returned %" PRIu64
	      ", expected %" PRIu64, deep_result, expect);
	/* The whole usable range is really usable, right down to lo. */
	st.lo[0] = 1;
	st.lo[st.size - 1] = 1;
	printf("         %d frames, %zu of %zu bytes of stack used\n",
	       deep_depth + 1, (size_t)(deep_top - deep_low), st.size);
	xt_stack_free(&st);
}

/* ------------------------------------------------------------------ */
/* 7. Overflowing the stack hits the guard page                        */
/* ------------------------------------------------------------------ */

static struct uco__ctx guard_main, guard_co;
static volatile uintptr_t guard_lo, guard_hi;

static void guard_handler(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr;

	(void)sig;
	(void)uc;
	_exit(a >= guard_lo && a < guard_hi ? 42 : 43);
}

static __attribute__((noinline)) uint64_t guard_rec(int depth)
{
	volatile unsigned char buf[1000];
	uint64_t r = 0;

	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (unsigned char)(depth + (int)i);
	if (depth < 1000000)
		r = guard_rec(depth + 1);
	return r + buf[depth % 1000];
}

static void guard_entry(void *arg)
{
	(void)arg;
	uco__ctx_started(&guard_co);
	guard_rec(0);
	uco__ctx_exit(&guard_co, &guard_main);
}

static void guard_child(void)
{
	static unsigned char altstack[64 * 1024];
	struct xt_stack st;
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof altstack };
	struct sigaction sa;
	struct rlimit no_core = { 0, 0 };

	setrlimit(RLIMIT_CORE, &no_core);
	xt_ctx_new(&guard_co, &st, guard_entry, NULL);
	guard_lo = (uintptr_t)st.map;
	guard_hi = (uintptr_t)st.lo;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = guard_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	if (sigaltstack(&ss, NULL) != 0 || sigaction(SIGSEGV, &sa, NULL) != 0 ||
	    sigaction(SIGBUS, &sa, NULL) != 0)
		_exit(44);
	uco__ctx_switch(&guard_main, &guard_co);
	_exit(45); /* the recursion came back: no overflow at all */
}

static void test_guard_page(void)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	ASSERT(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0)
		guard_child();
	ASSERT(waitpid(pid, &status, 0) == pid, "waitpid: %s", strerror(errno));
	ASSERT(!WIFSIGNALED(status), "overflowing child killed by signal %d "
	      "(handler not run on the alternate stack?)", WTERMSIG(status));
	ASSERT(WIFEXITED(status), "child status %#x", status);
	ASSERT(WEXITSTATUS(status) != 43, "the overflow faulted outside the "
	      "guard page");
	ASSERT(WEXITSTATUS(status) != 44, "sigaltstack/sigaction failed");
	ASSERT(WEXITSTATUS(status) != 45, "1,000,000 frames of 1000 bytes fit "
	      "on a 64 KiB stack?");
	ASSERT(WEXITSTATUS(status) == 42, "child exited with %d",
	      WEXITSTATUS(status));
}

/* ------------------------------------------------------------------ */
/* 8. 16-byte stack alignment at entry, whatever the stack bounds      */
/* ------------------------------------------------------------------ */

static struct uco__ctx align_main, align_co;
static struct align_rec {
	void *arg_seen;
	uintptr_t caller_sp;  /* sp at a call instruction in the entry */
	uintptr_t frame;      /* __builtin_frame_address(0) */
	uintptr_t local;      /* address of a 16-aligned local */
} align_rec;

static void align_entry(void *arg)
{
	_Alignas(16) unsigned char local[16];
	uintptr_t frame = (uintptr_t)__builtin_frame_address(0);
	uintptr_t loc = (uintptr_t)local;

	uco__ctx_started(&align_co);
	XT_LAUNDER(frame);
	XT_LAUNDER(loc);
	memset(local, 0, sizeof local);
	align_rec.arg_seen = arg;
	align_rec.caller_sp = xt_caller_sp();
	align_rec.frame = frame;
	align_rec.local = loc;
	uco__ctx_exit(&align_co, &align_main);
}

static void test_alignment(void)
{
	struct xt_stack st;
	int cases = 0;

	xt_stack_new(&st, XT_STACK);
	/* Shift the bottom and trim the top by every amount 0..15. */
	for (size_t lo_off = 0; lo_off < 16; lo_off += 3) {
		for (size_t trim = 0; trim < 16; trim++) {
			unsigned char *lo = st.lo + lo_off;
			size_t size = st.size - lo_off - trim;
			uintptr_t top = (uintptr_t)lo + size;
			void *arg = (void *)(uintptr_t)(0x10000 + 16 * cases);

			memset(&align_rec, 0, sizeof align_rec);
			uco__ctx_init(&align_co, lo, size, align_entry, arg);
			uco__ctx_switch(&align_main, &align_co);
			ASSERT(align_rec.arg_seen == arg,
			      "entry got arg %p, expected %p",
			      align_rec.arg_seen, arg);
			ASSERT(align_rec.caller_sp % 16 == 0,
			      "sp %#" PRIxPTR " at a call in the entry is not "
			      "16-aligned (stack %p + %zu)", align_rec.caller_sp,
			      (void *)lo, size);
			ASSERT(align_rec.frame % 16 == 0,
			      "frame address %#" PRIxPTR " not 16-aligned",
			      align_rec.frame);
			ASSERT(align_rec.local % 16 == 0,
			      "aligned local at %#" PRIxPTR, align_rec.local);
			ASSERT(align_rec.caller_sp < top &&
			      align_rec.caller_sp > top - 1024,
			      "entry runs at %#" PRIxPTR ", not just below the "
			      "top %#" PRIxPTR, align_rec.caller_sp, top);
			cases++;
		}
	}
	xt_stack_free(&st);
}

/* ------------------------------------------------------------------ */
/* 9. A chain of 64 fresh contexts, each started by the previous one   */
/* ------------------------------------------------------------------ */

#define CHAIN 64

static struct uco__ctx chain_main, chain_co[CHAIN];
static int chain_order[CHAIN], chain_n;

static void chain_entry(void *arg)
{
	int id = *(int *)arg;

	uco__ctx_started(&chain_co[id]);
	chain_order[chain_n++] = id;
	uco__ctx_exit(&chain_co[id],
		      id + 1 < CHAIN ? &chain_co[id + 1] : &chain_main);
}

static void test_chain(void)
{
	static struct xt_stack st[CHAIN];
	static int ids[CHAIN];

	for (int i = 0; i < CHAIN; i++) {
		ids[i] = i;
		xt_ctx_new(&chain_co[i], &st[i], chain_entry, &ids[i]);
	}
	uco__ctx_switch(&chain_main, &chain_co[0]);
	ASSERT(chain_n == CHAIN, "%d of %d contexts ran", chain_n, CHAIN);
	for (int i = 0; i < CHAIN; i++) {
		ASSERT(chain_order[i] == i, "context %d ran in place %d",
		      chain_order[i], i);
		xt_stack_free(&st[i]);
	}
}

/* ------------------------------------------------------------------ */
/* 10. A million switches                                             */
/* ------------------------------------------------------------------ */

#define MIL_SWITCHES 1000000

static struct uco__ctx mil_main, mil_co;
static uint64_t mil_seq;  /* bumped by whoever runs; parity = whose turn */
static int mil_done;

static void mil_entry(void *arg)
{
	uint64_t mine = 0;

	(void)arg;
	uco__ctx_started(&mil_co);
	while (!mil_done) {
		ASSERT(mil_seq % 2 == 1, "coroutine ran out of turn at %" PRIu64,
		      mil_seq);
		mil_seq++;
		mine++;
		uco__ctx_switch(&mil_co, &mil_main);
	}
	ASSERT(mine == MIL_SWITCHES / 2, "coroutine ran %" PRIu64 " times",
	      mine);
	uco__ctx_exit(&mil_co, &mil_main);
}

static void test_million(void)
{
	struct xt_stack st;
	struct timespec t0, t1;
	double ns;

	xt_ctx_new(&mil_co, &st, mil_entry, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < MIL_SWITCHES / 2; i++) {
		ASSERT(mil_seq == 2 * (uint64_t)i, "main ran out of turn at %"
		      PRIu64, mil_seq);
		mil_seq++;
		uco__ctx_switch(&mil_main, &mil_co);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ASSERT(mil_seq == MIL_SWITCHES, "%" PRIu64 " turns taken", mil_seq);
	mil_done = 1;
	uco__ctx_switch(&mil_main, &mil_co);
	xt_stack_free(&st);
	ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 +
	     (double)(t1.tv_nsec - t0.tv_nsec);
	printf("         %d switches in %.1f ms (%.1f ns per switch)\n",
	       MIL_SWITCHES, ns / 1e6, ns / MIL_SWITCHES);
}

/* ------------------------------------------------------------------ */
/* Driver                                                             */
/* ------------------------------------------------------------------ */

/*
 * Under AddressSanitizer a switch names the stack it goes to, so the
 * contexts that stand for the thread's own stack need its real bounds, not
 * the NULL/0 a zeroed uco__ctx has.
 */
static void xt_main_bounds(void)
{
#ifdef UCO_ASAN
	struct uco__ctx *mains[] = {
		&star_main, &ring_ctx[0], &reg_ctx[0], &fp_main, &fpc_main,
		&deep_main, &guard_main, &align_main, &chain_main, &mil_main,
	};
	pthread_attr_t attr;
	void *lo;
	size_t size;

	ASSERT(pthread_getattr_np(pthread_self(), &attr) == 0,
	      "pthread_getattr_np failed");
	ASSERT(pthread_attr_getstack(&attr, &lo, &size) == 0,
	      "pthread_attr_getstack failed");
	pthread_attr_destroy(&attr);
	for (size_t i = 0; i < sizeof mains / sizeof mains[0]; i++) {
		mains[i]->stack_lo = lo;
		mains[i]->stack_size = size;
	}
#endif
}

#define XT_TIMEOUT 60 /* seconds per test; all of them take well under 1 */

static const struct {
	const char *name;
	void (*fn)(void);
} xt_tests[] = {
	{ "pingpong_star", test_pingpong_star },
	{ "pingpong_ring", test_pingpong_ring },
	{ "callee_saved_registers", test_callee_saved },
	{ "fp_locals", test_fp_locals },
	{ "fp_control", test_fp_control },
	{ "deep_recursion", test_deep_recursion },
	{ "guard_page", test_guard_page },
	{ "alignment", test_alignment },
	{ "chain", test_chain },
	{ "million_switches", test_million },
};

int main(void)
{
	const char *nofork = getenv("XT_NOFORK");
	int in_process = nofork && *nofork && strcmp(nofork, "0") != 0;
	int passed = 0, failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	xt_test = "setup";
	xt_main_bounds();
	printf("switch_cross: %s, %zu tests\n", XT_ARCH,
	       sizeof xt_tests / sizeof xt_tests[0]);
	for (size_t i = 0; i < sizeof xt_tests / sizeof xt_tests[0]; i++) {
		int status = 0;

		xt_test = xt_tests[i].name;
		if (in_process) {
			xt_tests[i].fn(); /* exits on failure */
		} else {
			pid_t pid;

			fflush(NULL);
			pid = fork();
			if (pid < 0) {
				perror("switch_cross: fork");
				return 1;
			}
			if (pid == 0) {
				/* A broken switch can as well loop forever. */
				alarm(XT_TIMEOUT);
				xt_tests[i].fn();
				fflush(NULL);
				_exit(0);
			}
			if (waitpid(pid, &status, 0) != pid) {
				perror("switch_cross: waitpid");
				return 1;
			}
		}
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			printf("  ok     %s\n", xt_test);
			passed++;
		} else {
			if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
				printf("  FAIL   %s (hung: still running after "
				       "%d s)\n", xt_test, XT_TIMEOUT);
			else if (WIFSIGNALED(status))
				printf("  FAIL   %s (killed by signal %d: %s)\n",
				       xt_test, WTERMSIG(status),
				       strsignal(WTERMSIG(status)));
			else
				printf("  FAIL   %s (exit status %d)\n", xt_test,
				       WEXITSTATUS(status));
			failed++;
		}
	}
	printf("switch_cross: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
