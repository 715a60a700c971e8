/* demo.c: runs a spec compiled by `specc aot` on raw float32 samples (little-endian, one
 * signal), with no JIT and no Python.
 *
 *   specc aot whisper -o whisper.o --header whisper.h --lib libwhisper.a
 *   cc demo.c libwhisper.a -lm -lpthread -ldl -o demo
 *   ./demo speech.raw              # the output's shape, a checksum and its first values
 *   ./demo speech.raw out.raw      # ... and the whole output as raw float32
 *
 * Another spec: cc -DSPEC=keras_mel -include keras_mel.h demo.c libkeras_mel.a ... */
#include <stdio.h>
#include <stdlib.h>

#ifndef SPEC
#define SPEC whisper
#include "whisper.h"
#endif
#define GLUE(a, b, c) a##b##c
#define API2(spec, fn) GLUE(specc_, spec, fn)
#define API(fn) API2(SPEC, fn)

int main(int argc, char** argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s IN.raw [OUT.raw] [THREADS]\n", argv[0]);
        return 2;
    }
    FILE* f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    fseek(f, 0, SEEK_SET);
    size_t n = bytes > 0 ? (size_t)bytes / sizeof(float) : 0;
    float* x = malloc(n ? n * sizeof(float) : 1);
    if (!x || fread(x, sizeof(float), n, f) != n) {
        fprintf(stderr, "%s: cannot read %zu samples\n", argv[1], n);
        return 1;
    }
    fclose(f);

    size_t shape[1] = {n};
    size_t out_shape[SPECC_MAX_RANK], out_rank = 0;
    int s = API(_plan)(shape, 1, out_shape, &out_rank);
    if (s != SPECC_OK) {
        fprintf(stderr, "plan: %s: %s\n", specc_strerror(s), specc_last_error());
        return 1;
    }
    size_t len = 1;
    for (size_t i = 0; i < out_rank; i++) len *= out_shape[i];
    float* y = malloc(len * sizeof(float));
    size_t threads = argc > 3 ? (size_t)strtoul(argv[3], NULL, 10) : 0;
    s = API(_run_f32)(x, shape, 1, y, len, threads);
    if (s != SPECC_OK) {
        fprintf(stderr, "run: %s: %s\n", specc_strerror(s), specc_last_error());
        return 1;
    }
    printf("shape [");
    for (size_t i = 0; i < out_rank; i++) printf(i ? ", %zu" : "%zu", out_shape[i]);
    double sum = 0;
    for (size_t i = 0; i < len; i++) sum += y[i];
    printf("] float32, sum %.9g, first", sum);
    for (size_t i = 0; i < len && i < 5; i++) printf(" %.9g", y[i]);
    printf("\n");
    if (argc > 2) {
        FILE* o = fopen(argv[2], "wb");
        if (!o || fwrite(y, sizeof(float), len, o) != len || fclose(o) != 0) {
            perror(argv[2]);
            return 1;
        }
    }
    free(x);
    free(y);
    return 0;
}
