/*
 * uco__switch for x86-64, System V ABI (ELF).
 *
 *   void uco__switch(void **save_sp, void *load_sp);
 *
 * Saves the callee-saved state of the running context on its own stack,
 * stores the resulting stack pointer in *save_sp, then loads load_sp and
 * restores the state that uco__switch (or uco__ctx_init) left there.
 * Nothing else is touched: no signal mask, no syscalls.  The SysV ABI makes
 * rbx, rbp, r12-r15, the MXCSR control bits and the x87 control word
 * callee-saved; everything else is caller-saved, so the compiler already
 * assumes a call clobbers it.
 *
 * Saved frame, lowest address first (load_sp points at offset 0):
 *
 *   offset  contents
 *   ------  ---------------------------------------------
 *     0     MXCSR (4 bytes) | x87 control word (2 bytes)
 *     8     r12
 *    16     r13
 *    24     r14
 *    32     r15
 *    40     rbx
 *    48     rbp
 *    56     return address
 *
 * A fresh context (uco__ctx_init in switch.c) gets the same frame with the
 * return address pointing at uco__ctx_start, the entry function in r12 and
 * its argument in r13.
 */
#if defined(__CET__)
#include <cet.h>
#else
#define _CET_ENDBR
#endif

	.text
	.p2align 4
	.globl	uco__switch
	.hidden	uco__switch
	.type	uco__switch, @function
uco__switch:
	_CET_ENDBR
	pushq	%rbp			/* callee-saved general registers */
	pushq	%rbx
	pushq	%r15
	pushq	%r14
	pushq	%r13
	pushq	%r12
	leaq	-8(%rsp), %rsp		/* room for the FP control state */
	stmxcsr	(%rsp)			/* SSE rounding/exception masks */
	fnstcw	4(%rsp)			/* x87 precision/rounding control */
	movq	%rsp, (%rdi)		/* *save_sp = current stack pointer */

	movq	%rsi, %rsp		/* switch stacks: now on the target */
	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
	leaq	8(%rsp), %rsp
	popq	%r12
	popq	%r13
	popq	%r14
	popq	%r15
	popq	%rbx
	popq	%rbp
	ret				/* into the target where it left off */
	.size	uco__switch, .-uco__switch

/*
 * First code a new context runs, reached by uco__switch's `ret`.  The stack
 * pointer is 16-byte aligned here (uco__ctx_init arranges it), so the call
 * below enters the function with the alignment the ABI promises.  The entry
 * function never returns: a finished task switches away for good.
 */
	.p2align 4
	.globl	uco__ctx_start
	.hidden	uco__ctx_start
	.type	uco__ctx_start, @function
uco__ctx_start:
	_CET_ENDBR
	movq	%r13, %rdi		/* the argument uco__ctx_init stored */
	xorl	%ebp, %ebp		/* end of the frame chain for debuggers */
	callq	*%r12
	ud2				/* unreachable: entry functions never return */
	.size	uco__ctx_start, .-uco__ctx_start

	.section .note.GNU-stack,"",@progbits
