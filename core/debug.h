/*
 * Debug mode (uco_config.debug or UCO_DEBUG=1) and the fatal reports that
 * are always on (stack overflow).
 */
#ifndef UCO_CORE_DEBUG_H
#define UCO_CORE_DEBUG_H

struct uco__loop;
struct uco__runtime;
struct uco_task;

/* A task's stack overflowed: say which, then abort.  Never returns. */
__attribute__((noreturn)) void uco__stack_overflow(const struct uco_task *t);

/* Install / remove the SIGSEGV and SIGBUS handlers that recognise guard
 * pages. */
void uco__fault_handlers_install(struct uco__runtime *rt);
void uco__fault_handlers_remove(struct uco__runtime *rt);

/* Debug mode: t just switched out after running since t->run_start. */
void uco__debug_ran(struct uco__loop *l, struct uco_task *t);

/* Debug mode: t has made UCO_REFUSED_WARN suspending calls that were
 * refused with -ECANCELED at their start (it ignores its cancel). */
void uco__debug_refused(struct uco__loop *l, struct uco_task *t);

/* Debug mode: start the SIGQUIT dump watcher on loop l (core 0). */
void uco__debug_start(struct uco__loop *l);

/* Debug mode: report tasks still alive at shutdown (called per loop when
 * the main task ends). */
void uco__debug_report_alive(struct uco__loop *l);

#endif
