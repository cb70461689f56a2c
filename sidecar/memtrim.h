/* memtrim: gives freed heap pages back to the system after the large,
 * short-lived allocations of a snapshot or an apply, so an idle daemon stays
 * small. A no-op where the C library has no malloc_trim. */
#ifndef PIS_MEMTRIM_H
#define PIS_MEMTRIM_H

#ifdef __GLIBC__
#include <malloc.h>
#endif

static inline void memtrim(void)
{
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

#endif
