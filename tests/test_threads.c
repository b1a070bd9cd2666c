/* test_threads.c - one open index searched from several threads at once
 * gives every thread the results a single thread gets; readers keep
 * answering from the index they opened while rebuilds publish new ones;
 * builds in parallel threads do not disturb each other.  `make tsan` runs
 * it under ThreadSanitizer. */
#include "testutil.h"

#include <dirent.h>
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

static int ask_in(as_index *in, int q, answer *a)
{
    as_query_opts o;
    as_query_opts_init(&o);
    o.explain = q % 2;
    as_results *r;
    int rc = as_search(in, queries[q], &o, &r);
    if (rc)
        return rc;
    describe(r, a);
    as_results_free(r);
    uint64_t n;
    rc = as_count(in, queries[q], &n);
    size_t len = strlen(a->text);
    snprintf(a->text + len, sizeof a->text - len, "count %llu\n",
             (unsigned long long)n);
    return rc;
}

static int ask(int q, answer *a)
{
    return ask_in(ix, q, a);
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

/* ---- Readers while a rebuild publishes ---------------------------------- */

static answer ans_old[NQ], ans_new[NQ];
static const char *ix_path;
static int publishing_done;     /* set with __atomic builtins */

/* Searches the handle opened before the rebuilds began: every answer must
 * be the old index's, however many times the folder is republished. */
static void *old_reader(void *arg)
{
    (void)arg;
    static answer got[2];
    int slot = 0, rounds = 0;
    while (!__atomic_load_n(&publishing_done, __ATOMIC_ACQUIRE) ||
           rounds < 3) {
        for (int q = 0; q < NQ; q++) {
            if (ask(q, &got[slot]) != AS_OK)
                return (void *)"a search on the old handle failed";
            if (strcmp(got[slot].text, ans_old[q].text) != 0)
                return (void *)"the old handle's answer changed";
        }
        rounds++;
    }
    return NULL;
}

static int opened_old, opened_new;

/* Opens the folder again and again while it is republished: each opening
 * must succeed and answer wholly as one of the two versions. */
static void *reopener(void *arg)
{
    (void)arg;
    static answer got;
    int rounds = 0;
    while (!__atomic_load_n(&publishing_done, __ATOMIC_ACQUIRE) ||
           rounds < 3) {
        as_index *mine;
        if (as_index_open(ix_path, &mine) != AS_OK)
            return (void *)"opening during a publish failed";
        int which = -1;
        for (int q = 0; q < NQ; q++) {
            if (ask_in(mine, q, &got) != AS_OK) {
                as_index_close(mine);
                return (void *)"a search on a fresh handle failed";
            }
            int v = strcmp(got.text, ans_old[q].text) == 0   ? 0
                    : strcmp(got.text, ans_new[q].text) == 0 ? 1
                                                             : 2;
            if (v == 2 || (which >= 0 && v != which &&
                           strcmp(ans_old[q].text, ans_new[q].text) != 0)) {
                as_index_close(mine);
                return (void *)"a fresh handle mixed the two versions";
            }
            if (strcmp(ans_old[q].text, ans_new[q].text) != 0)
                which = v;
        }
        as_index_close(mine);
        if (which == 0)
            opened_old++;
        else if (which == 1)
            opened_new++;
        rounds++;
    }
    return NULL;
}

static void test_readers_during_publish(void **state)
{
    (void)state;
    char *dir = tu_tmpdir(), path[4300], other[4300], newc[4300];
    snprintf(path, sizeof path, "%s/ix", dir);
    snprintf(other, sizeof other, "%s/ix-new", dir);
    snprintf(newc, sizeof newc, "%s/new-corpus", dir);
    ix_path = path;
    /* The second version: a few articles that answer the same queries
     * differently. */
    assert_int_equal(mkdir(newc, 0755), 0);
    tu_writef(newc, "a.txt", "Sciatic pain\nsciatic nerve pain in the "
              "buttock, leg cramps at night, magnesium for cramps.\n");
    tu_writef(newc, "b.txt", "Pregnancy pain\npregnancy and buttock pain;"
              " vitamin b12.\n");
    tu_writef(newc, "c.txt", "Piriformis\nsciatica or piriformis "
              "syndrome, not pregnancy.\n");
    assert_int_equal(as_build(newc, other, NULL, NULL), AS_OK);
    as_index *nix;
    assert_int_equal(as_index_open(other, &nix), AS_OK);
    for (int q = 0; q < NQ; q++)
        assert_int_equal(ask_in(nix, q, &ans_new[q]), AS_OK);
    as_index_close(nix);

    assert_int_equal(as_build("corpus", path, NULL, NULL), AS_OK);
    assert_int_equal(as_index_open(path, &ix), AS_OK);
    for (int q = 0; q < NQ; q++)
        assert_int_equal(ask(q, &ans_old[q]), AS_OK);
    assert_string_not_equal(ans_old[0].text, ans_new[0].text);
    /* The generation folder it reads (the only one there). */
    char first_gen[4400] = "";
    DIR *d = opendir(path);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));)
        if (strncmp(e->d_name, "gen-", 4) == 0)
            snprintf(first_gen, sizeof first_gen, "%s/%s", path, e->d_name);
    closedir(d);
    assert_true(tu_exists(first_gen));

    __atomic_store_n(&publishing_done, 0, __ATOMIC_RELEASE);
    pthread_t rd, ro;
    assert_int_equal(pthread_create(&rd, NULL, old_reader, NULL), 0);
    assert_int_equal(pthread_create(&ro, NULL, reopener, NULL), 0);
    /* Republish six times, alternating the versions, ending on the new. */
    for (int i = 0; i < 6; i++)
        assert_int_equal(as_build(i % 2 ? newc : "corpus", path, NULL, NULL),
                         AS_OK);
    __atomic_store_n(&publishing_done, 1, __ATOMIC_RELEASE);
    void *res;
    assert_int_equal(pthread_join(rd, &res), 0);
    if (res)
        fail_msg("old reader: %s", (const char *)res);
    assert_int_equal(pthread_join(ro, &res), 0);
    if (res)
        fail_msg("reopener: %s", (const char *)res);
    print_message("during 6 publishes: %d fresh handles saw the old "
                  "version, %d the new\n", opened_old, opened_new);
    assert_true(opened_old + opened_new > 0);

    /* The generation the old handle reads is gone from the folder, yet it
     * still answers as before; a new handle answers as the new version. */
    assert_false(tu_exists(first_gen));
    answer a;
    for (int q = 0; q < NQ; q++) {
        assert_int_equal(ask(q, &a), AS_OK);
        assert_string_equal(a.text, ans_old[q].text);
    }
    as_index_close(ix);
    assert_int_equal(as_index_open(path, &ix), AS_OK);
    for (int q = 0; q < NQ; q++) {
        assert_int_equal(ask(q, &a), AS_OK);
        assert_string_equal(a.text, ans_new[q].text);
    }
    as_index_close(ix);
    tu_rmrf(dir);
    free(dir);
}

/* Builds in two threads of one process at once: each index answers as
 * one built alone (the inverter once sorted its terms through a global,
 * which ThreadSanitizer reports here). */
typedef struct {
    char path[4300];
    int rc;
} build_job;

static void *builder(void *arg)
{
    build_job *j = arg;
    as_build_opts o;
    memset(&o, 0, sizeof o);
    o.memory = 1;           /* the smallest budget: runs are spilled */
    j->rc = as_build("corpus", j->path, &o, NULL);
    return NULL;
}

static void test_parallel_builds(void **state)
{
    (void)state;
    char *dir = tu_tmpdir(), alone[4300];
    snprintf(alone, sizeof alone, "%s/alone", dir);
    assert_int_equal(as_build("corpus", alone, NULL, NULL), AS_OK);
    as_index *one;
    assert_int_equal(as_index_open(alone, &one), AS_OK);
    answer want[NQ];
    for (int q = 0; q < NQ; q++)
        assert_int_equal(ask_in(one, q, &want[q]), AS_OK);
    as_index_close(one);
    for (int round = 0; round < 3; round++) {
        build_job jobs[2];
        pthread_t th[2];
        for (int i = 0; i < 2; i++) {
            snprintf(jobs[i].path, sizeof jobs[i].path, "%s/ix%d", dir, i);
            assert_int_equal(pthread_create(&th[i], NULL, builder, &jobs[i]),
                             0);
        }
        for (int i = 0; i < 2; i++) {
            assert_int_equal(pthread_join(th[i], NULL), 0);
            assert_int_equal(jobs[i].rc, AS_OK);
            as_index *in;
            assert_int_equal(as_index_open(jobs[i].path, &in), AS_OK);
            for (int q = 0; q < NQ; q++) {
                answer a;
                assert_int_equal(ask_in(in, q, &a), AS_OK);
                assert_string_equal(a.text, want[q].text);
            }
            as_index_close(in);
        }
    }
    tu_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parallel_searches),
        cmocka_unit_test(test_readers_during_publish),
        cmocka_unit_test(test_parallel_builds),
    };
    return cmocka_run_group_tests_name("threads", tests, NULL, NULL);
}
