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
	leaq	-56(%rsp), %rsp		/* frame below the return address */
	stmxcsr	(%rsp)			/* SSE rounding/exception masks */
	fnstcw	4(%rsp)			/* x87 precision/rounding control */
	movq	%r12, 8(%rsp)		/* callee-saved general registers */
	movq	%r13, 16(%rsp)
	movq	%r14, 24(%rsp)
	movq	%r15, 32(%rsp)
	movq	%rbx, 40(%rsp)
	movq	%rbp, 48(%rsp)
	movl	(%rsp), %eax		/* our FP control state, to compare */
	movzwl	4(%rsp), %ecx		/* (same-size loads: store-forwarded) */
	movq	%rsp, (%rdi)		/* *save_sp = current stack pointer */

	movq	%rsi, %rsp		/* switch stacks: now on the target */
	movq	56(%rsp), %r8		/* where the target resumes */
	xorl	(%rsp), %eax		/* same MXCSR control bits as ours? */
	testl	$0xffc0, %eax		/* (bits 0-5 are status flags, which */
	jnz	2f			/* the ABI does not preserve) */
	cmpw	4(%rsp), %cx		/* same x87 control word? */
	jne	2f			/* rare: someone changed rounding */
1:	movq	8(%rsp), %r12
	movq	16(%rsp), %r13
	movq	24(%rsp), %r14
	movq	32(%rsp), %r15
	movq	40(%rsp), %rbx
	movq	48(%rsp), %rbp
	leaq	64(%rsp), %rsp		/* pop the frame and the return address */
	/* An indirect jump, not `ret`: the return-stack predictor expects us
	 * back at our own caller and would mispredict every switch; the
	 * indirect-branch predictor learns the ping-pong pattern. */
	jmp	*%r8
2:	ldmxcsr	(%rsp)			/* loading these stalls the pipeline, */
	fldcw	4(%rsp)			/* so only when they differ */
	jmp	1b
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
