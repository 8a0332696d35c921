/*
 * USDT probes (<sys/sdt.h>, Debian's systemtap-sdt-dev): trace points that
 * bpftrace, perf and SystemTap can attach to in a running program without
 * a rebuild.  Each is one `nop` in the code and an ELF note (stapsdt) that
 * says where its arguments are; nothing runs unless a tracer attaches.
 * Compiled in only when the header was found at build time (UCO_HAVE_SDT)
 * and the usdt option is not disabled.
 *
 * Provider "uco".  Every probe's first two arguments are the task's id and
 * the address of its name (a NUL-terminated string, "" for a task spawned
 * without a name: bpftrace's str(arg1)):
 *
 *   spawn        (id, name, core it runs on)
 *   exit         (id, name, error: 0 or the negative errno it failed with)
 *   suspend      (id, name)         the task gives up its core
 *   resume       (id, name)         the task runs again (and on its first run)
 *   op_submit    (id, name, opcode, op)  an SQE is prepared for the task
 *                                   (IORING_OP_*; it reaches the kernel
 *                                   with the loop's next batch)
 *   op_complete  (id, name, res, op)     the op's last CQE: the task is
 *                                   about to be resumed with res
 */
#ifndef UCO_CORE_PROBES_H
#define UCO_CORE_PROBES_H

#include "uco_config.h"

/*
 * A probe on task t, with zero, one or two more arguments.  No semaphore:
 * with one, each site would test it before computing the arguments, which
 * measured dearer than the bare `nop` plus the name's address (callgrind,
 * uco_bench_nop: 18.7 against 15.8 more instructions per op).  Build with
 * -Dusdt=disabled to leave the probes out altogether.
 */
#if UCO_HAVE_SDT
#include <sys/sdt.h>
#define UCO_PROBE_T(probe, t) DTRACE_PROBE2(uco, probe, (t)->id, (t)->name)
#define UCO_PROBE_T1(probe, t, a)                                             \
	DTRACE_PROBE3(uco, probe, (t)->id, (t)->name, a)
#define UCO_PROBE_T2(probe, t, a, b)                                          \
	DTRACE_PROBE4(uco, probe, (t)->id, (t)->name, a, b)
#else
#define UCO_PROBE_T(probe, t) ((void)0)
#define UCO_PROBE_T1(probe, t, a) ((void)0)
#define UCO_PROBE_T2(probe, t, a, b) ((void)0)
#endif

#endif
