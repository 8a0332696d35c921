/* Task-local values; see local.h and uco/local.h. */
#include "local.h"

#include <errno.h>
#include <stdatomic.h>

#include <uco/local.h>

#include "alloc.h"
#include "task.h"

struct uco__local {
	_Atomic unsigned refs;
	struct uco__local *next; /* the older entries (we hold a ref on it) */
	const void *key;
	void *value;
};

struct uco__local *uco__local_inherit(struct uco__local *chain)
{
	if (chain)
		atomic_fetch_add_explicit(&chain->refs, 1, memory_order_relaxed);
	return chain;
}

void uco__local_release(struct uco__local *chain)
{
	while (chain && atomic_fetch_sub_explicit(&chain->refs, 1,
						  memory_order_acq_rel) == 1) {
		struct uco__local *next = chain->next;

		uco__free(chain, sizeof(*chain));
		chain = next;
	}
}

UCO_API int uco_local_set(const void *key, void *value)
{
	struct uco_task *t = uco__self();
	struct uco__local *n;

	if (!t)
		return -EPERM;
	n = uco__alloc(sizeof(*n));
	if (!n)
		return -ENOMEM;
	atomic_init(&n->refs, 1);
	n->key = key;
	n->value = value;
	n->next = t->locals; /* the task's reference moves to the new head */
	t->locals = n;
	return 0;
}

UCO_API void *uco_local_get(const void *key)
{
	struct uco_task *t = uco__self();

	for (struct uco__local *n = t ? t->locals : NULL; n; n = n->next)
		if (n->key == key)
			return n->value;
	return NULL;
}
