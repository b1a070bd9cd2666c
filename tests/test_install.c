/* test_install.c - make install into a temporary DESTDIR, the example
 * compiled against the installed files alone (pkg-config), the exported
 * symbols, make uninstall; the man page and bash completion kept in step
 * with --help. */
#include "testutil.h"

#include "artsearch.h"

/* make, without the jobserver and variables of a make that runs the
 * tests (an ASan build of the library would not load into the example). */
#define MAKE "env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS -u SANITIZE -u BUILD " \
             "make -s --no-print-directory SANITIZE= BUILD=build"

static void test_install_example_uninstall(void **state)
{
    (void)state;
    char *dest = tu_tmpdir(), *work = tu_tmpdir(), *out;
    int st = tu_run(&out, 1, MAKE " install DESTDIR=%s PREFIX=/usr/local",
                    dest);
    if (st != 0)
        fail_msg("make install: %s", out);
    free(out);
    static const char *const files[] = {
        "bin/artsearch", "lib/libartsearch.a", "lib/libartsearch.so",
        "lib/libartsearch.so.0", "include/artsearch.h",
        "lib/pkgconfig/artsearch.pc", "share/man/man1/artsearch.1",
        "share/bash-completion/completions/artsearch",
    };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char p[4400];
        snprintf(p, sizeof p, "%s/usr/local/%s", dest, files[i]);
        if (!tu_exists(p))
            fail_msg("make install did not install %s", p);
    }

    /* The example, from the installed header, library and .pc only. */
    st = tu_run(&out, 1, "cc -Wall -Werror -o %s/example examples/example.c "
                "$(PKG_CONFIG_PATH=%s/usr/local/lib/pkgconfig pkg-config "
                "--define-variable=prefix=%s/usr/local --cflags --libs "
                "artsearch)", work, dest, dest);
    if (st != 0)
        fail_msg("compiling the example: %s", out);
    free(out);
    st = tu_run(&out, 1, "cd %s && LD_LIBRARY_PATH=%s/usr/local/lib "
                "./example ix", work, dest);
    if (st != 0)
        fail_msg("the example failed: %s", out);
    assert_non_null(strstr(out, "indexed 3 documents"));
    assert_non_null(strstr(out, "1. Why do I get cramps in my buttocks"));
    assert_non_null(strstr(out, "[sciatic]"));
    assert_non_null(strstr(out, "\"sciatic nerve\" -pregnancy: sciatica"));
    free(out);
    /* It ran against the installed shared library. */
    st = tu_run(&out, 0, "LD_LIBRARY_PATH=%s/usr/local/lib ldd %s/example",
                dest, work);
    assert_int_equal(st, 0);
    char want[4400];
    snprintf(want, sizeof want, "%s/usr/local/lib/libartsearch.so.0", dest);
    assert_non_null(strstr(out, want));
    free(out);

    /* Nothing but the API is exported. */
    st = tu_run(&out, 0, "{ nm -g --defined-only %s/usr/local/lib/"
                "libartsearch.a; nm -D --defined-only %s/usr/local/lib/"
                "libartsearch.so; } | awk 'NF == 3 && $3 !~ /^as_/'", dest,
                dest);
    assert_int_equal(st, 0);
    if (out[0])
        fail_msg("symbols outside the API are exported:\n%s", out);
    free(out);

    /* The installed command works. */
    st = tu_run(&out, 0, "%s/usr/local/bin/artsearch --version", dest);
    assert_int_equal(st, 0);
    assert_non_null(strstr(out, ARTSEARCH_VERSION));
    free(out);

    st = tu_run(&out, 1, MAKE " uninstall DESTDIR=%s PREFIX=/usr/local",
                dest);
    assert_int_equal(st, 0);
    free(out);
    st = tu_run(&out, 0, "find %s ! -type d", dest);
    assert_int_equal(st, 0);
    if (out[0])
        fail_msg("make uninstall left:\n%s", out);
    free(out);
    tu_rmrf(dest);
    tu_rmrf(work);
    free(dest);
    free(work);
}

/* The options a command's --help lists (--long and -s forms), one per
 * line. */
static char *help_options(const char *cmd)
{
    char *out;
    int st = tu_run(&out, 0, "%s %s --help | grep -oE '(^|[ ,])--?[a-zA-Z]"
                    "[a-z0-9-]*' | sed 's/^[ ,]*//' | sort -u", tu_bin(), cmd);
    assert_int_equal(st, 0);
    return out;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char text[1 << 17];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    return text;
}

static void test_man_page(void **state)
{
    (void)state;
    /* The roff source with \- made plain. */
    char *src = slurp("artsearch.1"), *man = malloc(strlen(src) + 1);
    size_t m = 0;
    for (const char *p = src; *p; p++) {
        if (p[0] == '\\' && p[1] == '-')
            p++;
        man[m++] = *p;
    }
    man[m] = '\0';
    static const char *const cmds[] = {"", "build", "query", "stats",
                                       "check"};
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        char *opts = help_options(cmds[i]);
        size_t n = 0;
        for (char *o = strtok(opts, "\n"); o; o = strtok(NULL, "\n"), n++)
            if (!strstr(man, o))
                fail_msg("'artsearch %s --help' lists %s; the man page does "
                         "not", cmds[i], o);
        assert_true(n >= 2);
        free(opts);
    }
    char th[64];
    snprintf(th, sizeof th, "\"artsearch %s\"", ARTSEARCH_VERSION);
    assert_non_null(strstr(man, th));
    assert_non_null(strstr(man, "ARTSEARCH_INDEX"));
    assert_non_null(strstr(man, "NO_COLOR"));
    assert_non_null(strstr(man, "EXIT STATUS"));
    free(man);

    /* It renders without a warning. */
    char *out;
    if (tu_run(&out, 0, "command -v man") != 0) {
        free(out);
        fprintf(stderr, "man is not installed: rendering not checked "
                        "(make deps installs man-db)\n");
        return;
    }
    free(out);
    int st = tu_run(&out, 0, "MANWIDTH=80 man --warnings -l artsearch.1 "
                    "2>&1 >/dev/null");
    assert_int_equal(st, 0);
    if (out[0])
        fail_msg("man --warnings: %s", out);
    free(out);
}

static void test_bash_completion(void **state)
{
    (void)state;
    char *comp = slurp("completion/artsearch.bash");
    static const char *const cmds[] = {"build", "query", "stats", "check"};
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        char *opts = help_options(cmds[i]);
        for (char *o = strtok(opts, "\n"); o; o = strtok(NULL, "\n"))
            if (o[1] == '-' && !strstr(comp, o))
                fail_msg("'artsearch %s --help' lists %s; the completion "
                         "does not", cmds[i], o);
        free(opts);
    }
    /* Complete a few words (with stand-ins for bash-completion's helpers
     * when it is not installed). */
    static const char *const cases[][2] = {
        {"artsearch qu", "query"},
        {"artsearch query --ti", "--timing --title-b --title-weight"},
        {"artsearch query -f ", "json text trec"},
        {"artsearch build --st", "--stopwords"},
        {"artsearch help st", "stats"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *out;
        int st = tu_run(&out, 1, "bash -c '"
            "_init_completion() { words=(\"${COMP_WORDS[@]}\"); "
            "cword=$COMP_CWORD; cur=${COMP_WORDS[COMP_CWORD]}; "
            "prev=${COMP_WORDS[COMP_CWORD-1]}; }; _filedir() { :; }; "
            "source completion/artsearch.bash; "
            "COMP_WORDS=(%s); [ \"%s\" != \"${COMP_WORDS[*]}\" ] && "
            "COMP_WORDS+=(\"\"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); "
            "_artsearch; printf \"%%s\\n\" \"${COMPREPLY[@]}\" | sort | "
            "tr \"\\n\" \" \"'", cases[i][0], cases[i][0]);
        assert_int_equal(st, 0);
        char want[256];
        snprintf(want, sizeof want, "%s ", cases[i][1]);
        if (strcmp(out, want) != 0)
            fail_msg("completing '%s': '%s', want '%s'", cases[i][0], out,
                     want);
        free(out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_install_example_uninstall),
        cmocka_unit_test(test_man_page),
        cmocka_unit_test(test_bash_completion),
    };
    return cmocka_run_group_tests_name("install", tests, NULL, NULL);
}
