/* ring.c - slots handed from one thread to another (see ring.h). */
#include "ring.h"

int ring_init(ring *r, size_t n)
{
    r->n = n;
    r->head = r->count = 0;
    r->filling = r->taken = r->done = r->stop = 0;
    if (pthread_mutex_init(&r->mu, NULL) != 0)
        return -1;
    if (pthread_cond_init(&r->cv, NULL) != 0) {
        pthread_mutex_destroy(&r->mu);
        return -1;
    }
    return 0;
}

void ring_destroy(ring *r)
{
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
}

long ring_put(ring *r)
{
    pthread_mutex_lock(&r->mu);
    while (!r->filling && r->count == r->n && !r->stop)
        pthread_cond_wait(&r->cv, &r->mu);
    long i = -1;
    if (!r->stop) {
        r->filling = 1;
        i = (long)((r->head + r->count) % r->n);
    }
    pthread_mutex_unlock(&r->mu);
    return i;
}

void ring_publish(ring *r)
{
    pthread_mutex_lock(&r->mu);
    if (r->filling) {
        r->filling = 0;
        r->count++;
        pthread_cond_broadcast(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
}

void ring_done(ring *r)
{
    pthread_mutex_lock(&r->mu);
    r->done = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* Give back the slot taken; called with the lock held. */
static void give_back(ring *r)
{
    if (r->taken) {
        r->taken = 0;
        r->head = (r->head + 1) % r->n;
        r->count--;
        pthread_cond_broadcast(&r->cv);
    }
}

long ring_get(ring *r)
{
    return ring_get_idle(r, NULL, NULL);
}

long ring_get_idle(ring *r, int (*idle)(void *), void *ctx)
{
    pthread_mutex_lock(&r->mu);
    give_back(r);
    int busy = idle != NULL;    /* idle may have more to do */
    while (r->count == 0 && !r->done) {
        if (busy) {
            pthread_mutex_unlock(&r->mu);
            busy = idle(ctx);
            pthread_mutex_lock(&r->mu);
            continue;
        }
        pthread_cond_wait(&r->cv, &r->mu);
        busy = idle != NULL;
    }
    long i = -1;
    if (r->count > 0) {
        r->taken = 1;
        i = (long)r->head;
    }
    pthread_mutex_unlock(&r->mu);
    return i;
}

void ring_stop(ring *r)
{
    pthread_mutex_lock(&r->mu);
    give_back(r);
    r->stop = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}
