/* Between tasks and task groups (group.c). */
#ifndef UCO_CORE_GROUP_INTERNAL_H
#define UCO_CORE_GROUP_INTERNAL_H

struct uco_group;
struct uco_task;

/* Member t of g has finished (called on g's core, outcome final). */
void uco__group_member_done(struct uco_group *g, struct uco_task *t);

#endif
