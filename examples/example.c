/* example.c - build an index from a few strings and search it with
 * libartsearch.
 *
 *   cc example.c $(pkg-config --cflags --libs artsearch) -o example
 *   ./example /tmp/example-index
 */
#include <stdio.h>
#include <stdlib.h>

#include <artsearch.h>

/* Print the library's message for a failed call and stop. */
static void check(int rc, const char *what)
{
    if (rc != AS_OK) {
        fprintf(stderr, "%s: %s (%s)\n", what, as_errmsg(), as_strerror(rc));
        exit(1);
    }
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "example-index";

    /* 1. Build: hand the documents over one by one.  The index appears
     *    in dir atomically when as_builder_finish succeeds. */
    static const char *const docs[][3] = {
        {"cramps", "Why do I get cramps in my buttocks during pregnancy?",
         "The growing uterus presses on the sciatic nerve, and the muscles "
         "of the buttock tighten: sciatic buttock pain is common late in "
         "pregnancy."},
        {"sciatica", "Sciatica",
         "Pain that runs from the lower back through the buttock and down "
         "the leg, along the sciatic nerve."},
        {"hydration", "Drinking enough water",
         "Dehydration can cause muscle cramps and headaches."},
    };
    as_builder *b;
    check(as_builder_new(dir, NULL, &b), "as_builder_new");
    for (size_t i = 0; i < sizeof docs / sizeof *docs; i++)
        check(as_builder_add(b, docs[i][0], docs[i][1], docs[i][2]),
              "as_builder_add");
    as_build_report report;
    check(as_builder_finish(b, &report), "as_builder_finish");
    as_builder_free(b);
    printf("indexed %llu documents, %llu terms\n",
           (unsigned long long)report.docs, (unsigned long long)report.terms);

    /* 2. Search: open the index once, query it as often as needed (from
     *    several threads if you like), close it. */
    as_index *ix;
    check(as_index_open(dir, &ix), "as_index_open");
    as_query_opts opts;
    as_query_opts_init(&opts);
    opts.k = 2;
    as_results *r;
    check(as_search(ix, "sciatic buttock pain", &opts, &r), "as_search");
    printf("%llu matching documents\n",
           (unsigned long long)as_results_total(r, NULL));
    for (size_t i = 0; i < as_results_count(r); i++) {
        const as_hit *h = as_results_hit(r, i);
        printf("%zu. %s (%s) %.3f\n   ", i + 1, h->title, h->id, h->score);
        /* The snippet with its matched words in brackets. */
        size_t at = 0;
        for (size_t k = 0; k < h->nspans; k++) {
            printf("%.*s[%.*s]", (int)(h->spans[k].start - at),
                   h->snippet + at, (int)h->spans[k].len,
                   h->snippet + h->spans[k].start);
            at = h->spans[k].start + h->spans[k].len;
        }
        printf("%s\n", h->snippet + at);
    }
    as_results_free(r);

    /* The query language works through the same call. */
    check(as_search(ix, "\"sciatic nerve\" -pregnancy", NULL, &r),
          "as_search");
    printf("\"sciatic nerve\" -pregnancy: %s\n",
           as_results_count(r) ? as_results_hit(r, 0)->id : "(none)");
    as_results_free(r);
    as_index_close(ix);
    return 0;
}
