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
 *    56     resume address (the return address of the call that saved
 *           this frame, or uco__ctx_start in a fresh one)
 *
 * A fresh context (uco__ctx_init in switch.c) gets the same frame with the
 * resume address pointing at uco__ctx_start, the entry function in r12 and
 * its argument in r13.
 *
 * Control-flow protection (CET).  Built with -fcf-protection the compiler
 * defines __CET__ (bit 0: indirect-branch tracking, IBT; bit 1: shadow
 * stack, SHSTK) and marks each of its objects with a GNU property note
 * claiming those features.  The linker ANDs the notes of all objects, and a
 * loader enables a feature only for a program whose every object claims it.
 * This file writes its own note and claims only what it does:
 *
 *   IBT, yes.  Both functions start with an endbr64 landing pad (IBT does
 *   not check `ret`, which resumes every context, but uco__switch's address
 *   may be taken, and the pads keep uco__ctx_start valid as a jump target).
 *   There is no indirect jump or call in this file other than the entry
 *   function's call in uco__ctx_start, which lands on a C function's pad.
 *
 *   SHSTK, no.  A shadow stack is one per context: every task would need its
 *   own, mapped with map_shadow_stack(2) (Linux 6.6+) with a restore token
 *   on it, and the switch would save the current one (rdsspq), move to the
 *   target's (rstorssp, then saveprevssp to leave a token on the one it
 *   left) and pop its own call's entry (incsspq), as boost.context does.
 *   That is a mapping and a system call per task, a page more memory per
 *   task (the floor is one page today), and code no machine here can run
 *   (this kernel and CPU offer no user shadow stacks; Debian 12's glibc 2.36
 *   never enables them), so it would ship untested.  Claiming SHSTK without
 *   it would be worse than not claiming it: in a process that enables shadow
 *   stacks (glibc 2.39+, Linux 6.6+) the first return after a switch would
 *   find another task's return address and fault.  So the SHSTK bit is never
 *   set: a program that links uco is not marked shadow-stack compatible, and
 *   the loader leaves shadow stacks off for it (or, told to insist, refuses
 *   it), instead of running it with a shadow stack the switch does not move.
 *
 * Not including <cet.h> is deliberate: it claims SHSTK whenever the compiler
 * does.  tests/switch_cet.sh builds this file with -fcf-protection=full and
 * checks the note and the landing pads.
 */
#if defined(__CET__) && (__CET__ & 1)
#define UCO_ENDBR	endbr64
#define UCO_NOTRACK	notrack
#define UCO_PROP_IBT	1
#else
#define UCO_ENDBR
#define UCO_NOTRACK
#define UCO_PROP_IBT	0
#endif

	.text
	.p2align 4
	.globl	uco__switch
	.hidden	uco__switch
	.type	uco__switch, @function
uco__switch:
	.cfi_startproc
	UCO_ENDBR			/* landing pad for indirect calls (IBT) */
	leaq	-56(%rsp), %rsp		/* frame below the return address */
	.cfi_adjust_cfa_offset 56
	/* Each rule below, once its register is stored, holds for the rest of
	 * the function on either stack: the target's frame has the same
	 * layout, so once rsp is moved an unwinder walks the target's chain
	 * instead of ours, and every slot it reads holds that chain's value. */
	stmxcsr	(%rsp)			/* SSE rounding/exception masks */
	fnstcw	4(%rsp)			/* x87 precision/rounding control */
	movq	%r12, 8(%rsp)		/* callee-saved general registers */
	.cfi_offset %r12, -56
	movq	%r13, 16(%rsp)
	.cfi_offset %r13, -48
	movq	%r14, 24(%rsp)
	.cfi_offset %r14, -40
	movq	%r15, 32(%rsp)
	.cfi_offset %r15, -32
	movq	%rbx, 40(%rsp)
	.cfi_offset %rbx, -24
	movq	%rbp, 48(%rsp)
	.cfi_offset %rbp, -16
	movl	(%rsp), %eax		/* our FP control state, to compare */
	movzwl	4(%rsp), %ecx		/* (same-size loads: store-forwarded) */
	movq	%rsp, (%rdi)		/* *save_sp = current stack pointer */

	movq	%rsi, %rsp		/* switch stacks: now on the target */
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
	.cfi_remember_state
	leaq	56(%rsp), %rsp		/* pop the frame */
	.cfi_adjust_cfa_offset -56
	.cfi_restore %r12
	.cfi_restore %r13
	.cfi_restore %r14
	.cfi_restore %r15
	.cfi_restore %rbx
	.cfi_restore %rbp
	/* `ret`, not an indirect jump: every task suspends through the same
	 * call chain (worker -> uco_nop -> uco__suspend -> uco__switch) and is
	 * resumed inside that same chain, so the return-address predictor,
	 * whose top entry is our own caller's return address, is right for
	 * the target too, and stays in step for the returns that follow.  An
	 * indirect jump never pops that entry, and the next two returns
	 * mispredict after every switch (issue 12: the yield ping-pong went
	 * from 61 to 14 ns).  benchmarks/switch.c measures the switch this
	 * way; a ping-pong between two different call sites rewards `jmp`. */
	ret				/* to the target's resume address */
	.cfi_restore_state
2:	ldmxcsr	(%rsp)			/* loading these stalls the pipeline, */
	fldcw	4(%rsp)			/* so only when they differ */
	jmp	1b
	.cfi_endproc
	.size	uco__switch, .-uco__switch

/*
 *   void uco__switch_exit(void *load_sp);
 *
 * Leave a finished context for good: nothing is saved, load_sp is resumed
 * as uco__switch resumes it, but with an indirect jump.  The finished
 * task's call chain (task_entry -> uco__leave) is never returned into, so
 * the return-address predictor's top entry is wrong for the target
 * whatever we do; a `ret` would also pop it and leave the predictor out of
 * step with the target's chain, while this jump, at a site of its own,
 * lets the indirect-branch predictor learn where finished tasks go.
 */
	.p2align 4
	.globl	uco__switch_exit
	.hidden	uco__switch_exit
	.type	uco__switch_exit, @function
uco__switch_exit:
	.cfi_startproc
	UCO_ENDBR			/* landing pad for indirect calls (IBT) */
	stmxcsr	-8(%rsp)		/* our FP control state (red zone) */
	fnstcw	-4(%rsp)
	movl	-8(%rsp), %eax
	movzwl	-4(%rsp), %ecx
	movq	%rdi, %rsp		/* switch stacks: now on the target */
	/* From here on, unwind as uco__switch does on the target's frame:
	 * the finished task's chain is gone for good. */
	.cfi_def_cfa_offset 64
	.cfi_offset %r12, -56
	.cfi_offset %r13, -48
	.cfi_offset %r14, -40
	.cfi_offset %r15, -32
	.cfi_offset %rbx, -24
	.cfi_offset %rbp, -16
	movq	56(%rsp), %r8		/* where the target resumes */
	xorl	(%rsp), %eax		/* same MXCSR control bits? */
	testl	$0xffc0, %eax
	jnz	2f
	cmpw	4(%rsp), %cx		/* same x87 control word? */
	jne	2f
1:	movq	8(%rsp), %r12
	movq	16(%rsp), %r13
	movq	24(%rsp), %r14
	movq	32(%rsp), %r15
	movq	40(%rsp), %rbx
	movq	48(%rsp), %rbp
	.cfi_remember_state
	leaq	64(%rsp), %rsp		/* pop the frame and the resume address */
	.cfi_def_cfa_offset 0		/* in effect the target's caller, about */
	.cfi_register %rip, %r8		/* to continue at r8 */
	.cfi_restore %r12
	.cfi_restore %r13
	.cfi_restore %r14
	.cfi_restore %r15
	.cfi_restore %rbx
	.cfi_restore %rbp
	UCO_NOTRACK jmp	*%r8		/* (no endbr64 there: it is a return
					   address, hence notrack) */
	.cfi_restore_state
2:	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
	jmp	1b
	.cfi_endproc
	.size	uco__switch_exit, .-uco__switch_exit

/*
 * First code a new context runs, reached by the `ret` that ends uco__switch
 * once the frame is popped (its resume address, uco__ctx_resume_at, set by uco__ctx_init).  The stack pointer is 16-byte aligned here
 * (uco__ctx_init arranges it), so the call below enters the function with
 * the alignment the ABI promises.  The entry
 * function never returns: a finished task switches away for good.
 */
	.p2align 4
	.globl	uco__ctx_start
	.hidden	uco__ctx_start
	.type	uco__ctx_start, @function
uco__ctx_start:
	.cfi_startproc
	/* The outermost frame of every task: its return address is
	 * "undefined", which DWARF unwinders (gdb, perf --call-graph=dwarf,
	 * libgcc, libunwind) take as the end of the stack, so a task's
	 * backtrace ends here instead of running into whatever lies above the
	 * stack's top.  rbp = 0 ends frame-pointer walks the same way. */
	.cfi_undefined %rip
	UCO_ENDBR			/* landing pad (see the top) */
	nop				/* a fresh frame resumes just below, so
					   its resume address minus one (where
					   unwinders look a return address up)
					   is inside this function too */
.Lctx_resume:
	movq	%r13, %rdi		/* the argument uco__ctx_init stored */
	xorl	%ebp, %ebp		/* end of the frame chain for debuggers */
	callq	*%r12
	ud2				/* unreachable: entry functions never return;
					   also keeps the return address inside
					   this function, for the unwinder */
	.cfi_endproc
	.size	uco__ctx_start, .-uco__ctx_start

/* Where a fresh context resumes (uco__ctx_init stores it in the frame). */
	.section .data.rel.ro, "aw"
	.p2align 3
	.globl	uco__ctx_resume_at
	.hidden	uco__ctx_resume_at
	.type	uco__ctx_resume_at, @object
	.size	uco__ctx_resume_at, 8
uco__ctx_resume_at:
	.quad	.Lctx_resume
	.text

#if UCO_PROP_IBT
/*
 * GNU property note (NT_GNU_PROPERTY_TYPE_0) with one property,
 * GNU_PROPERTY_X86_FEATURE_1_AND: bit 0 IBT, bit 1 SHSTK.  Only IBT is
 * claimed, whatever the compiler claims for C (see the top of the file).
 */
	.pushsection .note.gnu.property, "a"
	.p2align 3
	.long	4			/* n_namesz: "GNU" and its NUL */
	.long	16			/* n_descsz: the property, 8-byte padded */
	.long	5			/* n_type: NT_GNU_PROPERTY_TYPE_0 */
	.asciz	"GNU"			/* n_name */
	.long	0xc0000002		/* pr_type: GNU_PROPERTY_X86_FEATURE_1_AND */
	.long	4			/* pr_datasz */
	.long	UCO_PROP_IBT		/* pr_data: IBT only, never SHSTK */
	.long	0			/* pr_padding to 8 bytes */
	.popsection
#endif

	.section .note.GNU-stack,"",@progbits
