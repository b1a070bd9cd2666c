/* test_threads.c - one open index searched from several threads at once
 * gives every thread the results a single thread gets.  `make tsan` runs
 * it under ThreadSanitizer. */
#include "testutil.h"

#include <pthread.h>

#include "artsearch.h"

enum { THREADS = 4, ROUNDS = 25 };

static const char *const queries[] = {
    "sciatic buttock pain",
    "leg cramps at night",
    "\"sciatic nerve\" -pregnancy",
    "+magnesium cramps",
    "preg* AND title:pain",
    "(sciatica OR piriformis) AND NOT pregnancy",
    "vitamin b12",
    "zzzz unknown words",
};
enum { NQ = sizeof queries / sizeof *queries };

typedef struct {
    char text[8192];        /* ids, scores, snippets and explanations */
} answer;

static as_index *ix;
static answer expected[NQ];

static void describe(as_results *r, answer *a)
{
    size_t n = 0;
    a->text[0] = '\0';
    for (size_t i = 0; i < as_results_count(r); i++) {
        const as_hit *h = as_results_hit(r, i);
        n += (size_t)snprintf(a->text + n, sizeof a->text - n,
                              "%s %.9f %s|%s\n", h->id, h->score,
                              h->snippet ? h->snippet : "",
                              h->explain ? h->explain : "");
        if (n >= sizeof a->text)
            break;
    }
}

static int ask(int q, answer *a)
{
    as_query_opts o;
    as_query_opts_init(&o);
    o.explain = q % 2;
    as_results *r;
    int rc = as_search(ix, queries[q], &o, &r);
    if (rc)
        return rc;
    describe(r, a);
    as_results_free(r);
    uint64_t n;
    return as_count(ix, queries[q], &n);
}

static void *worker(void *arg)
{
    intptr_t t = (intptr_t)arg;
    static answer got[THREADS];
    for (int round = 0; round < ROUNDS; round++)
        for (int k = 0; k < NQ; k++) {
            int q = (int)((k + t + round) % NQ);
            if (ask(q, &got[t]) != AS_OK)
                return (void *)"a search failed";
            if (strcmp(got[t].text, expected[q].text) != 0)
                return (void *)"results differ from one thread's";
        }
    /* A failure's message belongs to the thread that failed. */
    as_results *r;
    if (as_search(ix, "", NULL, &r) != AS_ERR_USAGE ||
        strstr(as_errmsg(), "empty query") == NULL)
        return (void *)"as_errmsg is not per thread";
    return NULL;
}

static void test_parallel_searches(void **state)
{
    (void)state;
    char *dir = tu_tmpdir(), path[4300];
    snprintf(path, sizeof path, "%s/ix", dir);
    assert_int_equal(as_build("corpus", path, NULL, NULL), AS_OK);
    assert_int_equal(as_index_open(path, &ix), AS_OK);
    for (int q = 0; q < NQ; q++)
        assert_int_equal(ask(q, &expected[q]), AS_OK);
    assert_non_null(strstr(expected[0].text, "pregnancy-buttock-cramps.txt"));
    pthread_t th[THREADS];
    for (intptr_t t = 0; t < THREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, worker, (void *)t), 0);
    for (int t = 0; t < THREADS; t++) {
        void *res;
        assert_int_equal(pthread_join(th[t], &res), 0);
        if (res)
            fail_msg("thread %d: %s", t, (const char *)res);
    }
    as_index_close(ix);
    tu_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parallel_searches),
    };
    return cmocka_run_group_tests_name("threads", tests, NULL, NULL);
}
