/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _GRAFT_LISTWALK_H
#define _GRAFT_LISTWALK_H

#include <linux/list.h>

/*
 * A netlink dump's walk of a list, resumed where the last part stopped:
 * skip the first *@idx entries, then evaluate @call with @pos at each
 * following entry until it is non-zero (the dump's message is full),
 * counting in *@idx the entries done.  The value is the last @call's.  The
 * caller holds whatever keeps the list still.
 */
#define graft_list_walk(pos, head, member, idx, call)			\
({									\
	unsigned long __skip = *(idx);					\
	int __ret = 0;							\
									\
	list_for_each_entry(pos, head, member) {			\
		if (__skip) {						\
			__skip--;					\
			continue;					\
		}							\
		__ret = (call);						\
		if (__ret)						\
			break;						\
		(*(idx))++;						\
	}								\
	__ret;								\
})

#endif /* _GRAFT_LISTWALK_H */
