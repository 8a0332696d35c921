/*
 * uco__switch for aarch64, AAPCS64 (ELF).
 *
 *   void uco__switch(void **save_sp, void *load_sp);
 *
 * Saves the callee-saved state of the running context on its own stack,
 * stores the resulting stack pointer in *save_sp, then loads load_sp and
 * restores the state that uco__switch (or uco__ctx_init) left there.
 * Nothing else is touched: no signal mask, no syscalls.  AAPCS64 makes
 * x19-x28, the frame pointer x29, sp and the low 64 bits of v8-v15 (d8-d15)
 * callee-saved, and the control fields of FPCR (rounding mode, flush-to-zero,
 * default NaN) are preserved across calls too; x30 is the return address.
 * Everything else is caller-saved, so the compiler already assumes a call
 * clobbers it: x0-x18 (x18 is a plain temporary on Linux), the upper halves
 * of v8-v15, v0-v7, v16-v31, NZCV and the cumulative exception flags in FPSR.
 *
 * Saved frame, 176 bytes, lowest address first (load_sp points at offset 0):
 *
 *   offset  contents
 *   ------  ---------------------------------------------
 *     0     d8
 *     8     d9
 *    16     d10
 *    24     d11
 *    32     d12
 *    40     d13
 *    48     d14
 *    56     d15
 *    64     x19
 *    72     x20
 *    80     x21
 *    88     x22
 *    96     x23
 *   104     x24
 *   112     x25
 *   120     x26
 *   128     x27
 *   136     x28
 *   144     x29 (frame pointer)
 *   152     x30 (return address: where `ret` goes)
 *   160     FPCR
 *   168     padding (176 = 11 * 16 keeps sp 16-byte aligned)
 *
 * A fresh context (uco__ctx_init in switch.c) gets the same frame with x30
 * pointing at uco__ctx_start, the entry function in x19, its argument in
 * x20, the creator's FPCR, and zero everywhere else.
 *
 * Branch protection.  With -mbranch-protection=bti (or =standard) the
 * compiler defines __ARM_FEATURE_BTI_DEFAULT and marks its own objects as
 * BTI-compatible; this file then starts each function with a `bti c` landing
 * pad (uco__switch may be reached by blr through a function pointer or by
 * br x16/x17 from a linker veneer) and carries the same GNU property note,
 * since a single unmarked object would make the linker drop BTI for the whole
 * program.
 *
 * With -mbranch-protection=pac-ret (__ARM_FEATURE_PAC_DEFAULT) the note also
 * claims PAC compatibility: nothing here breaks callers that sign their own
 * return addresses, because x30 arrives and leaves exactly as the caller's
 * bl set it.  The return address saved in the frame above is however stored
 * unsigned, on purpose.  The frame of a fresh context is written by C
 * (uco__ctx_init) with a plain pointer to uco__ctx_start, so authenticating
 * x30 on every restore would fault the first time each context runs; and a
 * fresh frame also hands x19 to `blr`, so an attacker able to rewrite a saved
 * frame would not be stopped by signing x30 alone.  Real protection would
 * have to sign or check the whole frame, which is more than a context switch
 * should cost.  The GCS property bit is deliberately never set: switching to
 * another stack without switching the guarded control stack would make every
 * return after a switch fail.
 */
#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
#define UCO_BTI_C	bti	c
#define UCO_PROP_BTI	1
#else
#define UCO_BTI_C
#define UCO_PROP_BTI	0
#endif

#if defined(__ARM_FEATURE_PAC_DEFAULT) && __ARM_FEATURE_PAC_DEFAULT
#define UCO_PROP_PAC	2
#else
#define UCO_PROP_PAC	0
#endif

	.text
	.p2align 4
	.globl	uco__switch
	.hidden	uco__switch
	.type	uco__switch, %function
uco__switch:
	UCO_BTI_C			/* landing pad for indirect calls (BTI) */
	sub	sp, sp, #176		/* room for the frame; stays 16-aligned */
	stp	d8, d9, [sp, #0]	/* callee-saved FP/SIMD (low 64 bits) */
	stp	d10, d11, [sp, #16]
	stp	d12, d13, [sp, #32]
	stp	d14, d15, [sp, #48]
	stp	x19, x20, [sp, #64]	/* callee-saved general registers */
	stp	x21, x22, [sp, #80]
	stp	x23, x24, [sp, #96]
	stp	x25, x26, [sp, #112]
	stp	x27, x28, [sp, #128]
	stp	x29, x30, [sp, #144]	/* frame pointer and return address */
	mrs	x10, fpcr		/* FP control: rounding, FZ, DN (x10 scratch) */
	str	x10, [sp, #160]		/* offset 168 stays padding */
	mov	x9, sp			/* sp cannot be stored directly */
	str	x9, [x0]		/* *save_sp = current stack pointer */

	mov	sp, x1			/* switch stacks: now on the target */
	ldr	x9, [sp, #160]		/* the target's FP control */
	cmp	x9, x10			/* same as ours (the common case)? */
	b.eq	1f			/* then skip the write: msr fpcr can be slow */
	msr	fpcr, x9		/* restore it */
1:	ldp	d8, d9, [sp, #0]	/* callee-saved FP/SIMD */
	ldp	d10, d11, [sp, #16]
	ldp	d12, d13, [sp, #32]
	ldp	d14, d15, [sp, #48]
	ldp	x19, x20, [sp, #64]	/* callee-saved general registers */
	ldp	x21, x22, [sp, #80]
	ldp	x23, x24, [sp, #96]
	ldp	x25, x26, [sp, #112]
	ldp	x27, x28, [sp, #128]
	ldp	x29, x30, [sp, #144]	/* frame pointer and return address */
	add	sp, sp, #176		/* pop the frame */
	ret				/* to x30: into the target where it left off */
	.size	uco__switch, .-uco__switch

/*
 *   void uco__switch_exit(void *load_sp);
 *
 * Leave a finished context for good: nothing is saved; load_sp is resumed
 * exactly as uco__switch resumes it.  (x86-64 ends this one with an
 * indirect jump for its predictor; here `ret` stays: a `br` to a return
 * address, which has no landing pad, would fault under BTI.)
 */
	.p2align 4
	.globl	uco__switch_exit
	.hidden	uco__switch_exit
	.type	uco__switch_exit, %function
uco__switch_exit:
	UCO_BTI_C			/* landing pad for indirect calls (BTI) */
	mrs	x10, fpcr		/* our FP control, to compare */
	mov	sp, x0			/* switch stacks: now on the target */
	ldr	x9, [sp, #160]		/* the target's FP control */
	cmp	x9, x10
	b.eq	1f
	msr	fpcr, x9
1:	ldp	d8, d9, [sp, #0]	/* callee-saved FP/SIMD */
	ldp	d10, d11, [sp, #16]
	ldp	d12, d13, [sp, #32]
	ldp	d14, d15, [sp, #48]
	ldp	x19, x20, [sp, #64]	/* callee-saved general registers */
	ldp	x21, x22, [sp, #80]
	ldp	x23, x24, [sp, #96]
	ldp	x25, x26, [sp, #112]
	ldp	x27, x28, [sp, #128]
	ldp	x29, x30, [sp, #144]	/* frame pointer and return address */
	add	sp, sp, #176		/* pop the frame */
	ret				/* to x30: into the target where it left off */
	.size	uco__switch_exit, .-uco__switch_exit

/*
 * First code a new context runs, reached by uco__switch's `ret` with the
 * entry function in x19 and its argument in x20.  sp is 16-byte aligned
 * (uco__ctx_init aligns the top of the stack and the frame is a multiple of
 * 16), as AAPCS64 requires at every public interface.  The entry function
 * never returns: a finished task switches away for good, so `brk` traps if
 * one ever does.  The landing pad is not needed for `ret` (BTI does not check
 * returns) but costs nothing and keeps the label valid for `br`/`blr`.
 */
	.p2align 4
	.globl	uco__ctx_start
	.hidden	uco__ctx_start
	.type	uco__ctx_start, %function
uco__ctx_start:
	UCO_BTI_C			/* landing pad (see above) */
	mov	x0, x20			/* the argument uco__ctx_init stored */
	mov	x29, xzr		/* end of the frame chain for debuggers */
	blr	x19			/* entry(arg) */
	brk	#0			/* unreachable: entry functions never return */
	.size	uco__ctx_start, .-uco__ctx_start

#if UCO_PROP_BTI || UCO_PROP_PAC
/*
 * GNU property note (NT_GNU_PROPERTY_TYPE_0) with one property,
 * GNU_PROPERTY_AARCH64_FEATURE_1_AND: bit 0 BTI, bit 1 PAC.  The linker ANDs
 * it over all objects, so it must match what the compiler emits for C.
 */
	.pushsection .note.gnu.property, "a"
	.p2align 3
	.word	4			/* n_namesz: "GNU" and its NUL */
	.word	16			/* n_descsz: the property, 8-byte padded */
	.word	5			/* n_type: NT_GNU_PROPERTY_TYPE_0 */
	.asciz	"GNU"			/* n_name */
	.word	0xc0000000		/* pr_type: GNU_PROPERTY_AARCH64_FEATURE_1_AND */
	.word	4			/* pr_datasz */
	.word	UCO_PROP_BTI | UCO_PROP_PAC /* pr_data: the features claimed */
	.word	0			/* pr_padding to 8 bytes */
	.popsection
#endif

	.section .note.GNU-stack,"",@progbits
