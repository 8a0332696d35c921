/*
 * uco/runtime.h — starting and stopping the runtime (asyncio.run).
 *
 * uco_run() starts one event loop per configured core, each on its own
 * thread pinned to its CPU with its own io_uring, runs main(arg) as a task on
 * core 0, and returns when main returns: it then cancels every task still
 * alive, waits for them to finish, and releases every ring, thread, stack and
 * file descriptor it created.
 */
#ifndef UCO_RUNTIME_H
#define UCO_RUNTIME_H

#include <uco/common.h>
#include <uco/task.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Runtime configuration.  Always start from uco_config_init(). */
typedef struct uco_config {
	unsigned cores;           /* loops to start; 0 = every online CPU (default 1) */
	size_t stack_size;        /* default task stack, bytes (default: build option, 64 KiB) */
	unsigned sq_entries;      /* io_uring submission queue size per loop (default 1024) */
	unsigned cq_entries;      /* completion queue size (default 16 * sq_entries) */
	unsigned offload_threads; /* blocking-offload pool size (default 4) */
	unsigned guarded_stacks;  /* stacks with a PROT_NONE guard page, per process
	                             (default: a quarter of vm.max_map_count); later
	                             stacks are checked by a canary at every switch */
	bool pin;                 /* pin each loop thread to its CPU (default true) */
	bool debug;               /* debug mode; also enabled by UCO_DEBUG=1 */
} uco_config;

/* Fill cfg with the defaults.  Does not suspend; works anywhere. */
UCO_API void uco_config_init(uco_config *cfg);

/*
 * Run main(arg) as the first task on core 0 and return when it finishes.
 * cfg may be NULL for the defaults.  If result is not NULL it receives
 * main's result.  Returns 0 if main returned normally, main's error if it
 * ended with uco_fail(), or a negative errno if the runtime could not start
 * (-EINVAL for a bad configuration, -ENOSYS for a kernel without the io_uring
 * features uco needs, with a message on stderr saying which).
 * May not be called from inside a running uco task (-EBUSY).  Not a
 * suspending call: it blocks the calling thread until main has finished
 * and the runtime has shut down, and nothing cancels it from outside (a
 * signal is handled as uco/signal.h says).  cfg is read at start and
 * stays the caller's; arg is handed to main as it is.
 */
UCO_API int uco_run(uco_fn main, void *arg, const uco_config *cfg,
		    void **result);

/* Number of loops of the running runtime, and the one the caller runs on.
 * Neither suspends. */
UCO_API unsigned uco_cores(void);
UCO_API unsigned uco_core_id(void);

#ifdef __cplusplus
}
#endif

#endif
