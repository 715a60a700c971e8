/* The C side of tests/aot.rs: runs a spec compiled by `specc aot` through its header's API.
 * Built with -DSPEC=<name> -include <name>.h.
 *
 *   check run f32|f64 IN.raw OUT.raw THREADS D0 [D1 ...]   run on IN (raw, of that type) of
 *                                                         shape D0 x D1 ...; write the output
 *   check errors IN.raw                                   one line per bad call: "case status
 *                                                         untouched|written" */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GLUE(a, b, c) a##b##c
#define API2(spec, fn) GLUE(specc_, spec, fn)
#define API(fn) API2(SPEC, fn)
#define PROGRAM API(_program)

static void* slurp(const char* path, size_t* bytes) {
    FILE* f = fopen(path, "rb");
    if (!f) { perror(path); exit(1); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void* p = malloc(n > 0 ? (size_t)n : 1);
    if (fread(p, 1, (size_t)n, f) != (size_t)n) { perror(path); exit(1); }
    fclose(f);
    *bytes = (size_t)n;
    return p;
}

static size_t planned(const size_t* shape, size_t rank) {
    size_t out[SPECC_MAX_RANK], r = 0, len = 1;
    int s = specc_plan(&PROGRAM, shape, rank, out, &r);
    if (s != SPECC_OK) return 0;
    for (size_t i = 0; i < r; i++) len *= out[i];
    return len;
}

/* One bad call: its status, and whether the output (filled with a sentinel) was touched. */
static void report(const char* name, int status, const float* y, size_t len) {
    int touched = 0;
    for (size_t i = 0; i < len; i++) touched |= y[i] != 12345.0f;
    printf("%s %d %s\n", name, status, touched ? "written" : "untouched");
}

int main(int argc, char** argv) {
    if (argc >= 3 && strcmp(argv[1], "errors") == 0) {
        size_t bytes;
        float* x = slurp(argv[2], &bytes);
        size_t n = bytes / sizeof(float);
        size_t shape[1] = {n}, len = planned(shape, 1);
        size_t cap = len + 16 + n;
        float* y = malloc(cap * sizeof(float));
        size_t big[17];
        for (int i = 0; i < 17; i++) big[i] = 1;
        big[16] = n;
#define FILL() for (size_t i = 0; i < cap; i++) y[i] = 12345.0f
        FILL(); report("null_program", specc_run_f32(NULL, x, shape, 1, y, len, 1), y, cap);
        FILL(); report("null_shape", API(_run_f32)(x, NULL, 1, y, len, 1), y, cap);
        FILL(); report("rank_17", API(_run_f32)(x, big, 17, y, len, 1), y, cap);
        FILL(); report("null_input", API(_run_f32)(NULL, shape, 1, y, len, 1), y, cap);
        FILL(); report("null_output", API(_run_f32)(x, shape, 1, NULL, len, 1), y, cap);
        FILL(); report("short_output", API(_run_f32)(x, shape, 1, y, len - 1, 1), y, cap);
        FILL(); report("long_output", API(_run_f32)(x, shape, 1, y, len + 1, 1), y, cap);
        size_t zero[1] = {0};
        FILL(); report("empty", API(_run_f32)(x, zero, 1, y, len, 1), y, cap);
        size_t one[1] = {1};
        FILL(); report("one_sample", API(_run_f32)(x, one, 1, y, planned(one, 1), 1), y, cap);
        float keep = x[n / 2];
        x[n / 2] = NAN;
        FILL(); report("nan", API(_run_f32)(x, shape, 1, y, len, 1), y, cap);
        x[n / 2] = keep;
        size_t out[SPECC_MAX_RANK], r;
        printf("plan_rank_17 %d\n", API(_plan)(big, 17, out, &r));
        printf("plan_null_out %d\n", API(_plan)(shape, 1, NULL, &r));
        printf("plan_ok %d\n", API(_plan)(shape, 1, out, &r));
        printf("strerror %s\n", specc_strerror(SPECC_E_SHAPE));
        int s = API(_run_f32)(x, zero, 1, y, len, 1);
        printf("last_error %d %s\n", s, specc_last_error());
        free(x);
        free(y);
        return 0;
    }
    if (argc < 7 || strcmp(argv[1], "run") != 0) {
        fprintf(stderr, "usage: check run f32|f64 IN OUT THREADS D0 [D1 ...] | check errors IN\n");
        return 2;
    }
    int f64 = strcmp(argv[2], "f64") == 0;
    size_t bytes, rank = (size_t)(argc - 6), shape[SPECC_MAX_RANK], out[SPECC_MAX_RANK], r;
    for (size_t i = 0; i < rank; i++) shape[i] = (size_t)strtoull(argv[6 + i], NULL, 10);
    void* x = slurp(argv[3], &bytes);
    int s = API(_plan)(shape, rank, out, &r);
    if (s != SPECC_OK) {
        printf("status %d %s\n", s, specc_last_error());
        return 0;
    }
    size_t len = 1;
    for (size_t i = 0; i < r; i++) len *= out[i];
    size_t threads = (size_t)strtoull(argv[5], NULL, 10);
    void* y = malloc(len * (f64 ? sizeof(double) : sizeof(float)) + 1);
    s = f64 ? API(_run_f64)(x, shape, rank, y, len, threads) : API(_run_f32)(x, shape, rank, y, len, threads);
    if (s != SPECC_OK) {
        printf("status %d %s\n", s, specc_last_error());
        return 0;
    }
    FILE* o = fopen(argv[4], "wb");
    fwrite(y, f64 ? sizeof(double) : sizeof(float), len, o);
    fclose(o);
    printf("status 0 shape");
    for (size_t i = 0; i < r; i++) printf(" %zu", out[i]);
    printf("\n");
    free(x);
    free(y);
    return 0;
}
