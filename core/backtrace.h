/*
 * Backtraces of tasks, for debug mode's reports (debug.c): symbolized
 * function+offset lines walked with libunwind over the DWARF CFI
 * (.eh_frame) every object has on x86-64.  Frame pointers would not do:
 * the build is -O2, which omits them, and so does the users' code.
 *
 * Built only when libunwind (Debian: libunwind-dev) is found; otherwise
 * each call prints one line saying so.  x86-64 only for now: a suspended
 * task's registers are read from the frame switch_x86_64.S saved.
 */
#ifndef UCO_CORE_BACKTRACE_H
#define UCO_CORE_BACKTRACE_H

#include <stdio.h>

struct uco__ctx;

/* Set libunwind up now (debug mode calls it at start): on first use it
 * opens a pipe it keeps for the life of the process (it checks addresses
 * by writing them to it), which should not appear in the middle of a run. */
void uco__backtrace_init(void);

/* Print the stack of a context that is switched out (its saved frame is
 * at ctx->sp), one "<indent>#N 0xIP function+0xOFF" line per frame, down
 * to the task's entry.  Must not be the running context. */
void uco__backtrace_ctx(FILE *f, const struct uco__ctx *ctx,
			const char *indent);

/* The same for the caller's own stack, from its caller on. */
void uco__backtrace_here(FILE *f, const char *indent);

#endif
