/* The blocking-offload pool (uco_to_thread); one per runtime. */
#ifndef UCO_CORE_OFFLOAD_H
#define UCO_CORE_OFFLOAD_H

struct uco__runtime;

int uco__offload_init(struct uco__runtime *rt);
/* After every loop has exited: stop and join the pool threads. */
void uco__offload_term(struct uco__runtime *rt);
/* Jobs waiting for a thread now (takes the pool's lock; 0 without one). */
unsigned uco__offload_queued(struct uco__runtime *rt);

#endif
