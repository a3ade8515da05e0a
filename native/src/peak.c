/*
 * Measured fp32 FMA peak of this CPU: independent FMA chains kept in registers, on `threads` pthreads.
 *
 * The SIMD kernels are compiled with function-level target attributes and chosen at run time with
 * __builtin_cpu_supports (which also checks that the OS saves the wider registers), so the addon never
 * executes an instruction the CPU lacks, whatever -march the rest of the file is built for.
 */
#define _GNU_SOURCE
#include "peak.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define EAPGP_X86 1
#endif

#define NACC 12 /* independent chains: > latency (4) x FMA pipes (2) on current x86 cores */

static volatile float peak_sink;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#ifdef EAPGP_X86
#define CHAINS(OP) OP(0) OP(1) OP(2) OP(3) OP(4) OP(5) OP(6) OP(7) OP(8) OP(9) OP(10) OP(11)

__attribute__((target("avx512f"))) static double run_avx512(long iters) {
  const __m512 m = _mm512_set1_ps(0.9999999f), c = _mm512_set1_ps(1e-7f);
#define DECL(i) __m512 a##i = _mm512_set1_ps(1.0f + (float)(i) * 1e-3f);
  CHAINS(DECL)
#undef DECL
  for (long it = 0; it < iters; it++) {
#define STEP(i) a##i = _mm512_fmadd_ps(a##i, m, c);
    CHAINS(STEP)
#undef STEP
  }
  __m512 s = a0;
#define SUM(i) s = _mm512_add_ps(s, a##i);
  CHAINS(SUM)
#undef SUM
  float out[16];
  _mm512_storeu_ps(out, s);
  peak_sink = out[0];
  return (double)iters * NACC * 16 * 2;
}

__attribute__((target("avx2,fma"))) static double run_avx2(long iters) {
  const __m256 m = _mm256_set1_ps(0.9999999f), c = _mm256_set1_ps(1e-7f);
#define DECL(i) __m256 a##i = _mm256_set1_ps(1.0f + (float)(i) * 1e-3f);
  CHAINS(DECL)
#undef DECL
  for (long it = 0; it < iters; it++) {
#define STEP(i) a##i = _mm256_fmadd_ps(a##i, m, c);
    CHAINS(STEP)
#undef STEP
  }
  __m256 s = a0;
#define SUM(i) s = _mm256_add_ps(s, a##i);
  CHAINS(SUM)
#undef SUM
  float out[8];
  _mm256_storeu_ps(out, s);
  peak_sink = out[0];
  return (double)iters * NACC * 8 * 2;
}
#endif

/* Portable fallback: GCC/Clang vector extensions; the compiler fuses a*m+c where the target has FMA. */
typedef float v4f __attribute__((vector_size(16)));
static double run_generic(long iters) {
  const v4f m = {0.9999999f, 0.9999999f, 0.9999999f, 0.9999999f}, c = {1e-7f, 1e-7f, 1e-7f, 1e-7f};
  v4f a[NACC];
  for (int i = 0; i < NACC; i++) a[i] = (v4f){1.0f, 1.0f, 1.0f, 1.0f} + (float)i * 1e-3f;
  for (long it = 0; it < iters; it++) {
    for (int i = 0; i < NACC; i++) a[i] = a[i] * m + c;
  }
  v4f s = a[0];
  for (int i = 1; i < NACC; i++) s += a[i];
  peak_sink = s[0];
  return (double)iters * NACC * 4 * 2;
}

typedef double (*kernel_fn)(long);

static kernel_fn pick(const char **name) {
#ifdef EAPGP_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) {
    *name = "avx512f";
    return run_avx512;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    *name = "avx2+fma";
    return run_avx2;
  }
#endif
  *name = "generic";
  return run_generic;
}

const char *eapgp_peak_isa(void) {
  const char *name;
  pick(&name);
  return name;
}

typedef struct {
  kernel_fn fn;
  double seconds;
  volatile int *go;
  double flops, elapsed;
} job_t;

static void *worker(void *p) {
  job_t *j = (job_t *)p;
  j->fn(1000); /* warm up: wake the vector units before timing */
  while (!__atomic_load_n(j->go, __ATOMIC_ACQUIRE)) {
  }
  double t0 = now_s(), t = t0, flops = 0;
  long chunk = 20000;
  do {
    flops += j->fn(chunk);
    t = now_s();
  } while (t - t0 < j->seconds);
  j->flops = flops;
  j->elapsed = t - t0;
  return NULL;
}

double eapgp_peak_gflops(int threads, double ms) {
  const char *name;
  kernel_fn fn = pick(&name);
  if (threads < 1) threads = 1;
  if (threads > 256) threads = 256;
  job_t *jobs = calloc((size_t)threads, sizeof(job_t));
  pthread_t *tids = calloc((size_t)threads, sizeof(pthread_t));
  if (!jobs || !tids) {
    free(jobs);
    free(tids);
    return -1;
  }
  volatile int go = 0;
  for (int i = 0; i < threads; i++) {
    jobs[i].fn = fn;
    jobs[i].seconds = ms / 1000.0;
    jobs[i].go = &go;
  }
  /* threads 1..n-1 are new pthreads; the calling thread is thread 0. They spin on `go` so all start together. */
  int started = 0;
  for (int i = 1; i < threads; i++) {
    if (pthread_create(&tids[i], NULL, worker, &jobs[i]) != 0) break;
    started++;
  }
  __atomic_store_n(&go, 1, __ATOMIC_RELEASE);
  worker(&jobs[0]);
  for (int i = 1; i <= started; i++) pthread_join(tids[i], NULL);
  double gflops = 0;
  for (int i = 0; i <= started; i++) gflops += jobs[i].flops / jobs[i].elapsed * 1e-9;
  if (started != threads - 1) gflops = -1; /* could not start every thread */
  free(jobs);
  free(tids);
  return gflops;
}
