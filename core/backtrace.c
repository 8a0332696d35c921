/*
 * Task backtraces with libunwind (backtrace.h says why not frame pointers).
 *
 * A task that is switched out has its callee-saved registers, its resume
 * address and, by the frame's size, its stack pointer in the frame
 * uco__switch left (the table at the top of switch_x86_64.S).  Those are
 * exactly the registers an unwinder needs to start: it is given a
 * ucontext holding them, as if the task had just returned from
 * uco__switch, and walks on with each function's CFI.  The walk ends at
 * uco__ctx_start, whose CFI marks the return address undefined.
 */
#include "backtrace.h"

#include <stdint.h>
#include <string.h>

#include "switch.h"
#include "uco_config.h"

#define MAX_FRAMES 48

#if UCO_HAVE_LIBUNWIND && defined(__x86_64__)

#define UNW_LOCAL_ONLY
#include <libunwind.h>

static void walk(FILE *f, unw_cursor_t *cur, const char *indent)
{
	for (int n = 0; n < MAX_FRAMES; n++) {
		unw_word_t ip, off;
		char name[128];

		if (unw_get_reg(cur, UNW_REG_IP, &ip) < 0 || ip == 0)
			break;
		if (unw_get_proc_name(cur, name, sizeof(name), &off) == 0)
			fprintf(f, "%s#%d 0x%016llx %s+0x%llx\n", indent, n,
				(unsigned long long)ip, name,
				(unsigned long long)off);
		else
			fprintf(f, "%s#%d 0x%016llx ?\n", indent, n,
				(unsigned long long)ip);
		if (unw_step(cur) <= 0)
			break;
	}
}

void uco__backtrace_ctx(FILE *f, const struct uco__ctx *ctx,
			const char *indent)
{
	const uint64_t *fr = ctx->sp;
	unw_context_t uc;
	unw_cursor_t cur;

	/* As if uco__switch had just returned into the task: the frame's
	 * registers (offsets 8-48), its resume address (56), and the stack
	 * pointer above the frame. */
	memset(&uc, 0, sizeof(uc));
	uc.uc_mcontext.gregs[REG_R12] = (greg_t)fr[1];
	uc.uc_mcontext.gregs[REG_R13] = (greg_t)fr[2];
	uc.uc_mcontext.gregs[REG_R14] = (greg_t)fr[3];
	uc.uc_mcontext.gregs[REG_R15] = (greg_t)fr[4];
	uc.uc_mcontext.gregs[REG_RBX] = (greg_t)fr[5];
	uc.uc_mcontext.gregs[REG_RBP] = (greg_t)fr[6];
	uc.uc_mcontext.gregs[REG_RIP] = (greg_t)fr[7];
	uc.uc_mcontext.gregs[REG_RSP] = (greg_t)(uintptr_t)(fr + 8);
	if (unw_init_local(&cur, &uc) < 0) {
		fprintf(f, "%s(no backtrace: libunwind refused the frame)\n",
			indent);
		return;
	}
	walk(f, &cur, indent);
}

void uco__backtrace_init(void)
{
	unw_context_t uc;
	unw_cursor_t cur;

	if (unw_getcontext(&uc) == 0)
		(void)unw_init_local(&cur, &uc);
}

void uco__backtrace_here(FILE *f, const char *indent)
{
	unw_context_t uc;
	unw_cursor_t cur;

	if (unw_getcontext(&uc) < 0 || unw_init_local(&cur, &uc) < 0 ||
	    unw_step(&cur) <= 0) {
		fprintf(f, "%s(no backtrace)\n", indent);
		return;
	}
	walk(f, &cur, indent);
}

#else

void uco__backtrace_init(void)
{
}

void uco__backtrace_ctx(FILE *f, const struct uco__ctx *ctx,
			const char *indent)
{
	(void)ctx;
	fprintf(f, "%s(no backtrace: uco was built without libunwind, or "
		   "not for x86-64)\n", indent);
}

void uco__backtrace_here(FILE *f, const char *indent)
{
	uco__backtrace_ctx(f, NULL, indent);
}

#endif
