/*
 * Intrusive circular doubly linked lists: O(1) insert and unlink, no
 * allocation.  A node that is not on a list has next == prev == itself
 * (after uco__node_init or uco__list_del), so unlinking twice is harmless.
 */
#ifndef UCO_CORE_LIST_H
#define UCO_CORE_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct uco__node {
	struct uco__node *next, *prev;
};

#define uco__container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

static inline void uco__node_init(struct uco__node *n)
{
	n->next = n->prev = n;
}

static inline bool uco__list_empty(const struct uco__node *head)
{
	return head->next == head;
}

static inline bool uco__node_linked(const struct uco__node *n)
{
	return n->next != n;
}

static inline void uco__list_add_tail(struct uco__node *head,
				      struct uco__node *n)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}

static inline void uco__list_add_head(struct uco__node *head,
				      struct uco__node *n)
{
	n->next = head->next;
	n->prev = head;
	head->next->prev = n;
	head->next = n;
}

static inline void uco__list_del(struct uco__node *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n->prev = n;
}

/* First node, or NULL if empty. */
static inline struct uco__node *uco__list_first(const struct uco__node *head)
{
	return head->next == head ? NULL : head->next;
}

#define uco__list_for_each_safe(pos, tmp, head)                              \
	for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head);       \
	     (pos) = (tmp), (tmp) = (pos)->next)

#endif
