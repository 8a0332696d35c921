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
	.cfi_startproc
	UCO_BTI_C			/* landing pad for indirect calls (BTI) */
	sub	sp, sp, #176		/* room for the frame; stays 16-aligned */
	.cfi_def_cfa_offset 176
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
	/* From here to the pop these rules hold on either stack: the
	 * target's frame has the same layout, so once sp is moved an unwinder
	 * walks the target's chain, whose values the slots hold. */
	.cfi_offset d8, -176
	.cfi_offset d9, -168
	.cfi_offset d10, -160
	.cfi_offset d11, -152
	.cfi_offset d12, -144
	.cfi_offset d13, -136
	.cfi_offset d14, -128
	.cfi_offset d15, -120
	.cfi_offset x19, -112
	.cfi_offset x20, -104
	.cfi_offset x21, -96
	.cfi_offset x22, -88
	.cfi_offset x23, -80
	.cfi_offset x24, -72
	.cfi_offset x25, -64
	.cfi_offset x26, -56
	.cfi_offset x27, -48
	.cfi_offset x28, -40
	.cfi_offset x29, -32
	.cfi_offset x30, -24
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
	.cfi_def_cfa_offset 0
	.cfi_restore d8
	.cfi_restore d9
	.cfi_restore d10
	.cfi_restore d11
	.cfi_restore d12
	.cfi_restore d13
	.cfi_restore d14
	.cfi_restore d15
	.cfi_restore x19
	.cfi_restore x20
	.cfi_restore x21
	.cfi_restore x22
	.cfi_restore x23
	.cfi_restore x24
	.cfi_restore x25
	.cfi_restore x26
	.cfi_restore x27
	.cfi_restore x28
	.cfi_restore x29
	.cfi_restore x30
	ret				/* to x30: into the target where it left off */
	.cfi_endproc
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
	.cfi_startproc
	UCO_BTI_C			/* landing pad for indirect calls (BTI) */
	mrs	x10, fpcr		/* our FP control, to compare */
	mov	sp, x0			/* switch stacks: now on the target */
	/* Unwind as uco__switch does on the target's frame from here. */
	.cfi_def_cfa_offset 176
	.cfi_offset d8, -176
	.cfi_offset d9, -168
	.cfi_offset d10, -160
	.cfi_offset d11, -152
	.cfi_offset d12, -144
	.cfi_offset d13, -136
	.cfi_offset d14, -128
	.cfi_offset d15, -120
	.cfi_offset x19, -112
	.cfi_offset x20, -104
	.cfi_offset x21, -96
	.cfi_offset x22, -88
	.cfi_offset x23, -80
	.cfi_offset x24, -72
	.cfi_offset x25, -64
	.cfi_offset x26, -56
	.cfi_offset x27, -48
	.cfi_offset x28, -40
	.cfi_offset x29, -32
	.cfi_offset x30, -24
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
	.cfi_def_cfa_offset 0
	.cfi_restore d8
	.cfi_restore d9
	.cfi_restore d10
	.cfi_restore d11
	.cfi_restore d12
	.cfi_restore d13
	.cfi_restore d14
	.cfi_restore d15
	.cfi_restore x19
	.cfi_restore x20
	.cfi_restore x21
	.cfi_restore x22
	.cfi_restore x23
	.cfi_restore x24
	.cfi_restore x25
	.cfi_restore x26
	.cfi_restore x27
	.cfi_restore x28
	.cfi_restore x29
	.cfi_restore x30
	ret				/* to x30: into the target where it left off */
	.cfi_endproc
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
	.cfi_startproc
	/* Every task's outermost frame: an undefined return address is the
	 * end of the stack for DWARF unwinders (gdb, perf, libgcc), and
	 * x29 = 0 ends frame-pointer walks. */
	.cfi_undefined x30
	UCO_BTI_C			/* landing pad (see above) */
	nop				/* a fresh frame resumes just below, so
					   its resume address minus 4 (where
					   unwinders look it up) is in here too */
.Lctx_resume:
	mov	x0, x20			/* the argument uco__ctx_init stored */
	mov	x29, xzr		/* end of the frame chain for debuggers */
	blr	x19			/* entry(arg) */
	brk	#0			/* unreachable: entry functions never return */
	.cfi_endproc
	.size	uco__ctx_start, .-uco__ctx_start

/* Where a fresh context resumes (uco__ctx_init stores it in the frame). */
	.section .data.rel.ro, "aw"
	.p2align 3
	.globl	uco__ctx_resume_at
	.hidden	uco__ctx_resume_at
	.type	uco__ctx_resume_at, %object
	.size	uco__ctx_resume_at, 8
uco__ctx_resume_at:
	.xword	.Lctx_resume
	.text

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
