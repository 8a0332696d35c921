/*
 * Task-local values (contextvars): an immutable, refcounted chain of
 * (key, value) pairs.  A child shares its parent's chain at spawn; setting a
 * value prepends a node to the setter's own chain, so nobody else sees it.
 * Refcounts are atomic because a chain can be shared with a task spawned on
 * another core.
 */
#ifndef UCO_CORE_LOCAL_H
#define UCO_CORE_LOCAL_H

struct uco__local;

/* Take a reference to chain (NULL is fine) for a child task. */
struct uco__local *uco__local_inherit(struct uco__local *chain);

/* Drop a task's reference to its chain. */
void uco__local_release(struct uco__local *chain);

#endif
