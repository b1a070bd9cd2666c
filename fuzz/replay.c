/* replay.c - run a fuzz target's entry point over files, without
 * libFuzzer: for seeds and regression inputs in `make test`, and to
 * reproduce a crash under gdb or valgrind.
 *
 *   replay-TARGET FILE_OR_FOLDER...
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    size_t cap = 1 << 16, n = 0, got;
    uint8_t *d = malloc(cap);
    while ((got = fread(d + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap)
            d = realloc(d, cap *= 2);
    }
    fclose(f);
    LLVMFuzzerTestOneInput(d, n);
    free(d);
    return 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    LLVMFuzzerInitialize(&argc, &argv);
    int bad = 0, count = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            bad |= run_file(argv[i]);
            count++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        char *names[4096];
        int n = 0;
        struct dirent *e;
        while (d && (e = readdir(d)) && n < 4096)
            if (e->d_name[0] != '.')
                names[n++] = strdup(e->d_name);
        if (d)
            closedir(d);
        qsort(names, (size_t)n, sizeof *names, name_cmp);
        for (int k = 0; k < n; k++) {
            char p[4200];
            snprintf(p, sizeof p, "%s/%s", argv[i], names[k]);
            bad |= run_file(p);
            count++;
            free(names[k]);
        }
    }
    printf("replayed %d inputs\n", count);
    return bad;
}
