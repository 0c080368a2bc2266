/*
 * The worker pool's growth rule (pool.h). Counts are clamped rather than
 * trusted: the view is read without one lock over all of it, so idle +
 * waiting may briefly exceed threads.
 */
#include "engine/sched/pool.h"

unsigned pool_grow(const struct pool_view *v)
{
	unsigned room = v->threads < v->max ? v->max - v->threads : 0;
	unsigned n = 0;
	/* below the minimum (at the start, or a reload raised it): top up */
	if (v->threads < v->min)
		n = v->min - v->threads;
	unsigned idle = v->idle < v->threads ? v->idle : v->threads;
	if (v->queued > idle) {
		/* every idle worker takes a task and then works */
		unsigned waiting = v->waiting < v->threads - idle ? v->waiting : v->threads - idle;
		unsigned working = v->threads - waiting;   /* busy and not waiting, plus idle */
		size_t unserved = v->queued - idle;
		unsigned want = working < v->min ? v->min - working : 0;
		if (want > unserved)
			want = (unsigned)unserved;
		if (want > n)
			n = want;
	}
	return n < room ? n : room;
}
