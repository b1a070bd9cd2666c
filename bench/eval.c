/* eval.c - ranking quality of a TREC run against graded judgments.
 *
 *   eval QRELS RUN
 *
 * QRELS: "query iter doc grade" lines (grade > 0 is relevant; the grade is
 * the gain).  RUN: "query Q0 doc rank score tag" lines, as written by
 * `artsearch query --format trec`.
 *
 * nDCG@10 is computed as trec_eval's ndcg_cut_10: the run of each query is
 * re-sorted by score, descending, ties by doc id descending (trec_eval's
 * order; the rank column is ignored); DCG = sum over the first 10 of
 * grade / log2(rank + 1); the ideal DCG sorts all judged grades of the
 * query.  Like trec_eval, the mean is over the queries that have both
 * judgments and a run ("run"); the figure over every judged query, with
 * 0 for those the run left empty, is printed too (trec_eval -c).  Also
 * MRR@10 (reciprocal rank of the first relevant document within 10),
 * Recall@10 and Recall@100.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *q, *doc;
    double score;
    int grade;
} row;

typedef struct {
    row *v;
    size_t n, cap;
} rows;

static void push(rows *r, const char *q, const char *doc, double score,
                 int grade)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 4096;
        r->v = realloc(r->v, r->cap * sizeof *r->v);
        if (!r->v) {
            fprintf(stderr, "eval: out of memory\n");
            exit(1);
        }
    }
    r->v[r->n++] = (row){strdup(q), strdup(doc), score, grade};
}

static void free_rows(rows *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].q);
        free(r->v[i].doc);
    }
    free(r->v);
}

static int load(const char *path, rows *r, int run)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return -1;
    }
    char line[4096];
    size_t lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char q[512], x[64], doc[1024], tag[256];
        int rank, grade;
        double score;
        if (run) {
            if (sscanf(line, "%511s %63s %1023s %d %lf %255s", q, x, doc,
                       &rank, &score, tag) != 6) {
                fprintf(stderr, "eval: %s:%zu: not a TREC run line\n", path,
                        lineno);
                fclose(f);
                return -1;
            }
            push(r, q, doc, score, 0);
        } else {
            if (sscanf(line, "%511s %63s %1023s %d", q, x, doc, &grade) !=
                4) {
                fprintf(stderr, "eval: %s:%zu: not a qrels line\n", path,
                        lineno);
                fclose(f);
                return -1;
            }
            push(r, q, doc, 0, grade);
        }
    }
    fclose(f);
    return 0;
}

/* Runs: by query, then score descending, then doc id descending. */
static int run_order(const void *a, const void *b)
{
    const row *x = a, *y = b;
    int c = strcmp(x->q, y->q);
    if (c)
        return c;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return strcmp(y->doc, x->doc);
}

/* Judgments: by query, then grade descending, then doc. */
static int qrel_order(const void *a, const void *b)
{
    const row *x = a, *y = b;
    int c = strcmp(x->q, y->q);
    if (c)
        return c;
    if (x->grade != y->grade)
        return x->grade > y->grade ? -1 : 1;
    return strcmp(x->doc, y->doc);
}

/* The grade of doc for the query whose judgments are j[0..n). */
static int grade_of(const row *j, size_t n, const char *doc)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(j[i].doc, doc) == 0)
            return j[i].grade;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: eval QRELS RUN\n");
        return 2;
    }
    rows qr = {0}, run = {0};
    if (load(argv[1], &qr, 0) || load(argv[2], &run, 1)) {
        free_rows(&qr);
        free_rows(&run);
        return 2;
    }
    qsort(qr.v, qr.n, sizeof *qr.v, qrel_order);
    qsort(run.v, run.n, sizeof *run.v, run_order);
    double sum_ndcg = 0, sum_mrr = 0, sum_r10 = 0, sum_r100 = 0;
    size_t judged = 0, with_run = 0;
    size_t ri = 0;
    for (size_t qi = 0; qi < qr.n;) {
        size_t qe = qi;
        while (qe < qr.n && strcmp(qr.v[qe].q, qr.v[qi].q) == 0)
            qe++;
        const row *j = qr.v + qi;
        size_t nj = qe - qi;
        const char *q = qr.v[qi].q;
        qi = qe;
        size_t relevant = 0;
        double idcg = 0;
        for (size_t i = 0; i < nj; i++)
            if (j[i].grade > 0) {
                if (relevant < 10)
                    idcg += j[i].grade / log2((double)relevant + 2);
                relevant++;
            }
        if (relevant == 0)
            continue;           /* a query without judgments is left out */
        judged++;
        while (ri < run.n && strcmp(run.v[ri].q, q) < 0)
            ri++;
        size_t re = ri;
        while (re < run.n && strcmp(run.v[re].q, q) == 0)
            re++;
        if (re == ri)
            continue;           /* judged, but nothing retrieved */
        with_run++;
        double dcg = 0, rr = 0;
        size_t hits10 = 0, hits100 = 0;
        for (size_t k = 0; k < re - ri && k < 100; k++) {
            int g = grade_of(j, nj, run.v[ri + k].doc);
            if (k < 10) {
                dcg += (g > 0 ? g : 0) / log2((double)k + 2);
                if (g > 0 && rr == 0)
                    rr = 1.0 / (double)(k + 1);
            }
            if (g > 0) {
                hits100++;
                if (k < 10)
                    hits10++;
            }
        }
        sum_ndcg += dcg / idcg;
        sum_mrr += rr;
        sum_r10 += (double)hits10 / (double)relevant;
        sum_r100 += (double)hits100 / (double)relevant;
        ri = re;
    }
    if (judged == 0) {
        fprintf(stderr, "eval: no judged queries in %s\n", argv[1]);
        free_rows(&qr);
        free_rows(&run);
        return 1;
    }
    double n = with_run ? (double)with_run : 1;
    printf("queries          %zu judged, %zu with results\n", judged,
           with_run);
    printf("nDCG@10          %.4f   (trec_eval ndcg_cut_10; over all judged"
           " queries: %.4f)\n", sum_ndcg / n, sum_ndcg / (double)judged);
    printf("MRR@10           %.4f\n", sum_mrr / n);
    printf("Recall@10        %.4f\n", sum_r10 / n);
    printf("Recall@100       %.4f\n", sum_r100 / n);
    free_rows(&qr);
    free_rows(&run);
    return 0;
}
