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
	return uco_local_get_or(key, NULL);
}

/* ---- defaults and tokens (issue 14) -------------------------------------- */

/* The value of an entry that makes its key unset again (a reset to
 * "never set"): its address is unique to this file. */
static const char unset_marker;
#define UNSET ((void *)(uintptr_t)&unset_marker)

/* The entry for key in t's chain, or NULL. */
static struct uco__local *find(const struct uco_task *t, const void *key)
{
	for (struct uco__local *n = t ? t->locals : NULL; n; n = n->next)
		if (n->key == key)
			return n;
	return NULL;
}

UCO_API void *uco_local_get_or(const void *key, void *dflt)
{
	struct uco__local *n = find(uco__self(), key);

	return n && n->value != UNSET ? n->value : dflt;
}

UCO_API int uco_local_set_token(const void *key, void *value,
				uco_local_token *token)
{
	struct uco__local *n = find(uco__self(), key);
	int r;

	if (!token)
		return -EINVAL;
	token->key = key;
	token->had_value = n && n->value != UNSET;
	token->old_value = token->had_value ? n->value : NULL;
	token->used = true; /* until the set has succeeded */
	r = uco_local_set(key, value);
	if (r == 0)
		token->used = false;
	return r;
}

UCO_API int uco_local_reset(uco_local_token *token)
{
	int r;

	if (!token || token->used)
		return -EINVAL;
	r = uco_local_set(token->key,
			  token->had_value ? token->old_value : UNSET);
	if (r == 0)
		token->used = true;
	return r;
}
