/* test_kill.c - `artsearch build` killed with SIGKILL at many points: the
 * index in place must answer exactly as before and pass `check` every
 * time, and the next build must clean up what the killed ones left. */
#include "testutil.h"

#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
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

    /* Kill points spread over the whole build, from its start, until
     * KILL_POINTS builds were really interrupted.  A build that finished
     * before its kill (a loaded machine is faster or slower from one build
     * to the next) is checked all the same, and shrinks the spread. */
    int killed = 0, tries = 0;
    double spread = 0.85;
    for (int i = 0; killed < KILL_POINTS && tries < 3 * KILL_POINTS;
         i = (i + 1) % KILL_POINTS, tries++) {
        double delay = build_time * spread * (i + 0.5) / KILL_POINTS;
        int k = build_and_kill(corpus, ix, delay);
        killed += k;
        if (!k)
            spread *= 0.95;
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
    if (killed < KILL_POINTS)
        fail_msg("only %d of %d kills interrupted a build", killed, tries);
    printf("killed %d builds of %.2f s in %d tries\n", killed, build_time,
           tries);

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

/* ---- Writes that fail ---------------------------------------------------- */

/* Run `artsearch build` with every file it writes limited to `limit` bytes
 * (RLIMIT_FSIZE, with SIGXFSZ ignored: a write past it fails with EFBIG, as
 * one on a full disk fails with ENOSPC).  Returns the exit status; its
 * stderr (through a pipe, which the limit does not touch) goes to msg. */
static int build_limited(const char *corpus, const char *ix,
                         const char *memory, rlim_t limit, char *msg,
                         size_t size)
{
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit rl = {limit, limit};
        close(fd[0]);
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0 || signal(SIGXFSZ, SIG_IGN)
            == SIG_ERR || !freopen("/dev/null", "w", stdout) ||
            dup2(fd[1], 2) < 0)
            _exit(126);
        execl(tu_bin(), tu_bin(), "build", "-q", "-m", memory, "-o", ix,
              corpus, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    size_t n = 0;
    ssize_t r;
    while ((r = read(fd[0], msg + n, size - 1 - n)) > 0)
        n += (size_t)r;
    msg[n] = '\0';
    close(fd[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void test_write_errors(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char corpus[4300], ix[4300], qfile[4300];
    snprintf(corpus, sizeof corpus, "%s/c.jsonl.gz", dir);
    snprintf(ix, sizeof ix, "%s/ix", dir);
    snprintf(qfile, sizeof qfile, "%s/q.tsv", dir);
    make_corpus(corpus, 3000);
    tu_writef(dir, "q.tsv", "1\tw1 w2 w3\n2\tw17 title\n3\tw12345 w99\n");
    char *out, *want;
    assert_int_equal(tu_run(&out, 1, "%s build -q -o %s %s", tu_bin(), ix,
                            corpus), 0);
    free(out);
    assert_int_equal(tu_run(&want, 0, "%s query -i %s --queries %s -f trec "
                            "-n 20", tu_bin(), ix, qfile), 0);
    assert_true(strlen(want) > 100);
    /* Limits from nothing to past the largest file, with the inversion's
     * memory small enough that runs spill to disk too. */
    static const rlim_t limits[] = {0, 1, 16, 100, 1000, 4096, 10000,
                                    40000, 100000, 200000, 400000,
                                    800000, 1600000};
    int failed = 0;
    for (size_t i = 0; i < sizeof limits / sizeof *limits; i++)
        for (int spill = 0; spill < 2; spill++) {
            char msg[1024];
            int st = build_limited(corpus, ix, spill ? "1M" : "256M",
                                   limits[i], msg, sizeof msg);
            if (st != 0) {
                failed++;
                /* A clear message, not a crash. */
                if (st >= 128 || strncmp(msg, "artsearch: ", 11) != 0 ||
                    !strstr(msg, "File too large"))
                    fail_msg("limit %lu: status %d, stderr: %s",
                             (unsigned long)limits[i], st, msg);
            }
            char *got;
            st = tu_run(&got, 1, "%s query -i %s --queries %s -f trec -n 20",
                        tu_bin(), ix, qfile);
            if (st != 0 || strcmp(got, want) != 0)
                fail_msg("after a write failing past %lu bytes: query "
                         "exited %d, results %s", (unsigned long)limits[i],
                         st, strcmp(got, want) ? "differ" : "same");
            free(got);
            st = tu_run(&got, 1, "%s check -i %s", tu_bin(), ix);
            if (st != 0)
                fail_msg("after a write failing past %lu bytes: check "
                         "failed: %s", (unsigned long)limits[i], got);
            free(got);
            /* A failed build leaves nothing behind. */
            DIR *d = opendir(ix);
            assert_non_null(d);
            int gens = 0, others = 0;
            for (struct dirent *e; (e = readdir(d));) {
                if (strncmp(e->d_name, "gen-", 4) == 0)
                    gens++;
                else if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")
                         && strcmp(e->d_name, "MANIFEST") &&
                         strcmp(e->d_name, "LOCK"))
                    others++;
            }
            closedir(d);
            if (gens != 1 || others != 0)
                fail_msg("limit %lu: %d generations and %d other entries "
                         "left", (unsigned long)limits[i], gens, others);
        }
    /* Most of these limits are below the index's size: they must fail. */
    assert_true(failed >= 16);
    printf("%d of %zu builds failed on a write; the index stayed intact\n",
           failed, 2 * (sizeof limits / sizeof *limits));
    free(want);
    tu_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_during_build),
        cmocka_unit_test(test_write_errors),
    };
    return cmocka_run_group_tests_name("kill", tests, NULL, NULL);
}
