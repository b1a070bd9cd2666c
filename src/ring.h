/* ring.h - slots handed from one producer thread to one consumer thread.
 *
 * The slots (buffers, chunks) belong to the caller, in an array of n; the
 * ring only says which one each side may use.  The producer fills slots
 * in order (ring_put, then ring_publish); the consumer takes them in the
 * same order (ring_get).  Either side ends it: the producer with
 * ring_done after publishing its last slot, the consumer with ring_stop,
 * after which the producer's ring_put returns -1.  The build's reading
 * pipe (index.c) and the JSONL read-ahead (corpus.c) use it. */
#ifndef AS_RING_H
#define AS_RING_H

#include <pthread.h>
#include <stddef.h>

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* any change of the fields below */
    size_t n;
    size_t head, count;     /* the published slots, oldest first */
    int filling;            /* the producer holds slot (head + count) % n */
    int taken;              /* the consumer holds slot head */
    int done, stop;
} ring;

/* 0, or nonzero when no ring can be made (then no thread should be). */
int ring_init(ring *r, size_t n);
void ring_destroy(ring *r);

/* Producer: the slot being filled, else the next free one (waiting for
 * it); -1 once the consumer has stopped. */
long ring_put(ring *r);
/* Producer: hand the slot being filled to the consumer (if any). */
void ring_publish(ring *r);
/* Producer: no more slots will come. */
void ring_done(ring *r);

/* Consumer: give back the slot taken last (if any), then take the oldest
 * published one, waiting for it; -1 when the producer is done and none is
 * left. */
long ring_get(ring *r);
/* Consumer: ring_get, but while there is nothing to take, idle(ctx) is
 * called (without the ring's lock) until it returns 0, before waiting;
 * and again after each wake-up that brings nothing. */
long ring_get_idle(ring *r, int (*idle)(void *), void *ctx);
/* Consumer: no more slots are wanted. */
void ring_stop(ring *r);

#endif
