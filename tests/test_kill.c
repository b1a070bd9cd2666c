/* test_kill.c - `artsearch build` killed with SIGKILL at many points: the
 * index in place must answer exactly as before and pass `check` every
 * time, and the next build must clean up what the killed ones left. */
#include "testutil.h"

#include <dirent.h>
#include <signal.h>
#include <time.h>
#include <zlib.h>

#define KILL_POINTS 60

static char *tmp;

static void make_corpus(const char *path, int docs)
{
    gzFile z = gzopen(path, "wb1");
    assert_non_null(z);
    uint64_t r = 99;
    for (int d = 0; d < docs; d++) {
        gzprintf(z, "{\"id\":\"k%d\",\"title\":\"Title %d\",\"text\":\"", d,
                 d % 97);
        int words = 50 + d % 100;
        for (int w = 0; w < words; w++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            gzprintf(z, "w%u ", (unsigned)((r >> 33) % (w % 3 ? 300 : 30000)));
        }
        gzputs(z, "\"}\n");
    }
    assert_int_equal(gzclose(z), Z_OK);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Start `artsearch build`, kill it after `delay` seconds (if still
 * running); returns 1 if it was killed. */
static int build_and_kill(const char *corpus, const char *ix, double delay)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout))
            _exit(126);
        execl(tu_bin(), tu_bin(), "build", "-q", "-o", ix, corpus,
              (char *)NULL);
        _exit(127);
    }
    struct timespec ts = {(time_t)delay,
                          (long)((delay - (double)(time_t)delay) * 1e9)};
    nanosleep(&ts, NULL);
    int killed = kill(pid, SIGKILL) == 0;
    int st;
    waitpid(pid, &st, 0);
    return killed && WIFSIGNALED(st);
}

static void test_kill_during_build(void **state)
{
    (void)state;
    tmp = tu_tmpdir();
    char corpus[4300], ix[4300], qfile[4300];
    snprintf(corpus, sizeof corpus, "%s/c.jsonl.gz", tmp);
    snprintf(ix, sizeof ix, "%s/ix", tmp);
    snprintf(qfile, sizeof qfile, "%s/q.tsv", tmp);
    make_corpus(corpus, 20000);
    tu_writef(tmp, "q.tsv", "1\tw1 w2 w3\n2\tw17 title\n3\tw12345 w99\n"
                            "4\t5\n");
    char *out;
    /* The build's duration: the faster of two runs (the first may pay for
     * a cold cache). */
    double build_time = 1e9;
    for (int i = 0; i < 2; i++) {
        double t0 = now();
        assert_int_equal(tu_run(&out, 1, "%s build -q -o %s %s", tu_bin(),
                                ix, corpus), 0);
        free(out);
        if (now() - t0 < build_time)
            build_time = now() - t0;
    }
    char *want;
    assert_int_equal(tu_run(&want, 0, "%s query -i %s --queries %s -f trec "
                            "-n 20", tu_bin(), ix, qfile), 0);
    assert_true(strlen(want) > 100);

    int killed = 0;
    for (int i = 0; i < KILL_POINTS; i++) {
        /* Kill points spread over the whole build, from its start. */
        double delay = build_time * 0.85 * (i + 0.5) / KILL_POINTS;
        killed += build_and_kill(corpus, ix, delay);
        char *got;
        int st = tu_run(&got, 1, "%s query -i %s --queries %s -f trec -n 20",
                        tu_bin(), ix, qfile);
        if (st != 0 || strcmp(got, want) != 0)
            fail_msg("after a kill at %.3f s: query exited %d, results %s",
                     delay, st, strcmp(got, want) ? "differ" : "same");
        free(got);
        st = tu_run(&got, 1, "%s check -i %s", tu_bin(), ix);
        if (st != 0)
            fail_msg("after a kill at %.3f s: check failed: %s", delay, got);
        free(got);
    }
    /* At least 50 kill points must really have interrupted a build. */
    if (killed < 50)
        fail_msg("only %d of %d kills interrupted a build", killed,
                 KILL_POINTS);
    printf("killed %d builds of %.2f s at %d points\n", killed, build_time,
           KILL_POINTS);

    /* The next build cleans up: one generation, no tmp- folder. */
    assert_int_equal(tu_run(&out, 1, "%s build -q -o %s %s", tu_bin(), ix,
                            corpus), 0);
    free(out);
    DIR *d = opendir(ix);
    assert_non_null(d);
    int gens = 0, tmps = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        gens += strncmp(e->d_name, "gen-", 4) == 0;
        tmps += strncmp(e->d_name, "tmp-", 4) == 0;
    }
    closedir(d);
    assert_int_equal(gens, 1);
    assert_int_equal(tmps, 0);
    free(want);
    tu_rmrf(tmp);
    free(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_during_build),
    };
    return cmocka_run_group_tests_name("kill", tests, NULL, NULL);
}
