/*
 * eapgp_blas: CBLAS sgemm on the engine's shared WebAssembly memory, zero-copy.
 *
 * JavaScript hands over a Float32Array spanning the SharedArrayBuffer of the WebAssembly.Memory once
 * (setMemory); the addon caches its base address and length. Every later call passes byte offsets relative to
 * that base, which are bounds-checked against the cached length and turned into pointers: no copies, no
 * per-call lookups of JS objects. Shared wasm memories never move when they grow, so the base stays valid;
 * setMemory is called again after a grow only to raise the length used for bounds checks.
 *
 * Exports:
 *   setMemory(f32: Float32Array)                      -> byteLength
 *   sgemm(tA, tB, M, N, K, alpha, aOff, lda, bOff, ldb, beta, cOff, ldc)
 *   sgemmBatched(tA, tB, M, N, K, alpha, aOff, lda, strideA, bOff, ldb, strideB, beta, cOff, ldc, strideC, batch)
 *       (row-major; ld* and stride* in elements; *Off in bytes)
 *   setThreads(n), getThreads(), setKBlock(n)
 *   info()                                            -> { config, threads, corename, parallel, peakIsa, memoryBytes }
 *   peakGflops(threads, ms)                           -> measured fp32 FMA GFLOP/s
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>

#include <cblas.h>

#include "peak.h"
#include "split.h"
#include <unistd.h>

#if defined(OPENBLAS_VERSION) || defined(OPENBLAS_CONFIG_H) || defined(OPENBLAS_OS_LINUX)
#define EAPGP_OPENBLAS 1
#endif

typedef struct {
  uint8_t *base;   /* start of the wasm memory */
  uint64_t length; /* its byte length as of the last setMemory */
  napi_ref view;   /* keeps the typed array (and so the memory) alive */
} state_t;

#define CHECK_NAPI(env, call)                                        \
  do {                                                               \
    if ((call) != napi_ok) {                                         \
      const napi_extended_error_info *ei = NULL;                     \
      napi_get_last_error_info((env), &ei);                          \
      bool pending = false;                                          \
      napi_is_exception_pending((env), &pending);                    \
      if (!pending)                                                  \
        napi_throw_error((env), "ERR_EAPGP_BLAS",                    \
                         ei && ei->error_message ? ei->error_message \
                                                 : "N-API call failed"); \
      return NULL;                                                   \
    }                                                                \
  } while (0)

static napi_value throw_range(napi_env env, const char *msg) {
  napi_throw_range_error(env, "ERR_EAPGP_BLAS_RANGE", msg);
  return NULL;
}
static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_EAPGP_BLAS_TYPE", msg);
  return NULL;
}

/* ---- argument parsing ---------------------------------------------------------------------------- */

static const char *const GEMM_NAMES[] = {"tA", "tB", "M", "N", "K", "alpha", "aOff", "lda", "bOff", "ldb", "beta", "cOff", "ldc"};
static const char *const BATCH_NAMES[] = {"tA", "tB", "M", "N", "K", "alpha", "aOff", "lda", "strideA", "bOff", "ldb",
                                          "strideB", "beta", "cOff", "ldc", "strideC", "batch"};

static bool get_bool(napi_env env, napi_value v, const char *fn, const char *name, bool *out) {
  if (napi_get_value_bool(env, v, out) == napi_ok) return true;
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s must be a boolean", fn, name);
  throw_type(env, msg);
  return false;
}

/* a non-negative integer below `max` */
static bool get_count(napi_env env, napi_value v, const char *fn, const char *name, double max, int64_t *out) {
  double d;
  char msg[200];
  if (napi_get_value_double(env, v, &d) != napi_ok) {
    snprintf(msg, sizeof msg, "%s: %s must be a number", fn, name);
    throw_type(env, msg);
    return false;
  }
  if (!(d >= 0 && d <= max && d == floor(d))) {
    snprintf(msg, sizeof msg, "%s: %s = %g is not an integer in [0, %.0f]", fn, name, d, max);
    throw_range(env, msg);
    return false;
  }
  *out = (int64_t)d;
  return true;
}

static bool get_float(napi_env env, napi_value v, const char *fn, const char *name, float *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s: %s must be a number", fn, name);
    throw_type(env, msg);
    return false;
  }
  *out = (float)d;
  return true;
}

#define INT_MAXD 2147483647.0
#define OFF_MAXD 9007199254740991.0

/*
 * Checks one operand: `batch` matrices of rows x cols (row-major, leading dimension ld elements, matrix i at
 * off + i*stride*4 bytes) must lie inside [0, length). Returns false after throwing.
 */
static bool check_operand(napi_env env, const state_t *st, const char *fn, char which, int64_t off, int64_t rows,
                          int64_t cols, int64_t ld, int64_t stride, int64_t batch) {
  char msg[320];
  int64_t need_ld = cols > 1 ? cols : 1;
  if (ld < need_ld) {
    snprintf(msg, sizeof msg, "%s: ld%c = %lld is less than the %lld columns of %c as stored (row-major)", fn,
             which + ('a' - 'A'), (long long)ld, (long long)cols, which);
    throw_range(env, msg);
    return false;
  }
  if (off & 3) {
    snprintf(msg, sizeof msg, "%s: %c offset %lld is not a multiple of 4 bytes", fn, which, (long long)off);
    throw_range(env, msg);
    return false;
  }
  if (rows == 0 || cols == 0 || batch == 0) return true;
  /* all in doubles first: operands can be absurd, and the products must not overflow int64 */
  double span = ((double)(rows - 1) * (double)ld + (double)cols) * 4.0;
  double end = (double)off + (double)(batch - 1) * (double)stride * 4.0 + span;
  if (end > (double)st->length) {
    snprintf(msg, sizeof msg,
             "%s: %c (offset %lld bytes, %lld x %lld, ld %lld%s) ends at byte %.0f, beyond the %llu-byte memory",
             fn, which, (long long)off, (long long)rows, (long long)cols, (long long)ld,
             batch > 1 ? ", batched" : "", end, (unsigned long long)st->length);
    throw_range(env, msg);
    return false;
  }
  return true;
}

typedef struct {
  bool tA, tB;
  int64_t M, N, K, aOff, lda, sA, bOff, ldb, sB, cOff, ldc, sC, batch;
  float alpha, beta;
} gemm_args;

static napi_value do_gemm(napi_env env, napi_callback_info info, bool batched) {
  const char *fn = batched ? "sgemmBatched" : "sgemm";
  const size_t want = batched ? 17 : 13;
  const char *const *names = batched ? BATCH_NAMES : GEMM_NAMES;
  napi_value argv[17];
  size_t argc = 17;
  void *data;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, &data));
  state_t *st = (state_t *)data;
  if (argc < want) {
    char msg[120];
    snprintf(msg, sizeof msg, "%s: expected %zu arguments, got %zu", fn, want, argc);
    return throw_type(env, msg);
  }
  if (!st->base) return throw_type(env, "eapgp_blas: setMemory() must be called before sgemm");

  gemm_args g = {0};
  g.sA = g.sB = g.sC = 0;
  g.batch = 1;
  size_t i = 0;
  if (!get_bool(env, argv[i], fn, names[i], &g.tA)) return NULL;
  i++;
  if (!get_bool(env, argv[i], fn, names[i], &g.tB)) return NULL;
  i++;
  if (!get_count(env, argv[i], fn, names[i], INT_MAXD, &g.M)) return NULL;
  i++;
  if (!get_count(env, argv[i], fn, names[i], INT_MAXD, &g.N)) return NULL;
  i++;
  if (!get_count(env, argv[i], fn, names[i], INT_MAXD, &g.K)) return NULL;
  i++;
  if (!get_float(env, argv[i], fn, names[i], &g.alpha)) return NULL;
  i++;
  if (!get_count(env, argv[i], fn, names[i], OFF_MAXD, &g.aOff)) return NULL;
  i++;
  if (!get_count(env, argv[i], fn, names[i], INT_MAXD, &g.lda)) return NULL;
  i++;
  if (batched) {
    if (!get_count(env, argv[i], fn, names[i], OFF_MAXD, &g.sA)) return NULL;
    i++;
  }
  if (!get_count(env, argv[i], fn, names[i], OFF_MAXD, &g.bOff)) return NULL;
  i++;
  if (!get_count(env, argv[i], fn, names[i], INT_MAXD, &g.ldb)) return NULL;
  i++;
  if (batched) {
    if (!get_count(env, argv[i], fn, names[i], OFF_MAXD, &g.sB)) return NULL;
    i++;
  }
  if (!get_float(env, argv[i], fn, names[i], &g.beta)) return NULL;
  i++;
  if (!get_count(env, argv[i], fn, names[i], OFF_MAXD, &g.cOff)) return NULL;
  i++;
  if (!get_count(env, argv[i], fn, names[i], INT_MAXD, &g.ldc)) return NULL;
  i++;
  if (batched) {
    if (!get_count(env, argv[i], fn, names[i], OFF_MAXD, &g.sC)) return NULL;
    i++;
    if (!get_count(env, argv[i], fn, names[i], INT_MAXD, &g.batch)) return NULL;
    i++;
  }

  /* stored shapes (row-major): A is M x K, or K x M when transposed; B is K x N, or N x K */
  int64_t aRows = g.tA ? g.K : g.M, aCols = g.tA ? g.M : g.K;
  int64_t bRows = g.tB ? g.N : g.K, bCols = g.tB ? g.K : g.N;
  bool useA = g.K > 0 && g.M > 0 && g.N > 0; /* A and B are not read when the product is empty */
  if (!check_operand(env, st, fn, 'A', g.aOff, useA ? aRows : 0, aCols, g.lda, g.sA, g.batch)) return NULL;
  if (!check_operand(env, st, fn, 'B', g.bOff, useA ? bRows : 0, bCols, g.ldb, g.sB, g.batch)) return NULL;
  if (!check_operand(env, st, fn, 'C', g.cOff, g.M, g.N, g.ldc, g.sC, g.batch)) return NULL;
  if (g.M == 0 || g.N == 0 || g.batch == 0) return NULL;

  /* one product per batch item, each cut into blocks by its shape alone and spread over the pool (split.c) */
  eapgp_gemm_t one, *calls = g.batch == 1 ? &one : (eapgp_gemm_t *)malloc((size_t)g.batch * sizeof(eapgp_gemm_t));
  if (!calls) {
    napi_throw_error(env, "ERR_EAPGP_BLAS", "sgemmBatched: out of memory");
    return NULL;
  }
  const float *a = (const float *)(st->base + g.aOff);
  const float *b = (const float *)(st->base + g.bOff);
  float *c = (float *)(st->base + g.cOff);
  for (int64_t k = 0; k < g.batch; k++) {
    calls[k] = (eapgp_gemm_t){g.tA, g.tB, g.M, g.N, g.K, g.alpha, g.beta, a + k * g.sA, b + k * g.sB, c + k * g.sC,
                              g.lda, g.ldb, g.ldc};
  }
  const int rc = eapgp_split_gemm(calls, g.batch);
  if (calls != &one) free(calls);
  if (rc != 0) napi_throw_error(env, "ERR_EAPGP_BLAS", "sgemm: out of memory");
  return NULL;
}

static napi_value js_sgemm(napi_env env, napi_callback_info info) { return do_gemm(env, info, false); }
static napi_value js_sgemm_batched(napi_env env, napi_callback_info info) { return do_gemm(env, info, true); }

/* ---- memory ---------------------------------------------------------------------------------------- */

static napi_value js_set_memory(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  void *data;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, &data));
  state_t *st = (state_t *)data;
  bool is_ta = false;
  if (argc < 1 || napi_is_typedarray(env, argv[0], &is_ta) != napi_ok || !is_ta)
    return throw_type(env, "setMemory: expected a Float32Array over the WebAssembly memory's buffer");
  napi_typedarray_type type;
  size_t length, byte_offset;
  void *ptr = NULL;
  napi_value ab;
  CHECK_NAPI(env, napi_get_typedarray_info(env, argv[0], &type, &length, &ptr, &ab, &byte_offset));
  if (type != napi_float32_array)
    return throw_type(env, "setMemory: expected a Float32Array over the WebAssembly memory's buffer");
  if (byte_offset != 0) return throw_range(env, "setMemory: the Float32Array must start at byte 0 of the buffer");
  if (ptr == NULL && length > 0) return throw_range(env, "setMemory: could not get the buffer's address");
  uint8_t *base = (uint8_t *)ptr;
  napi_ref ref;
  CHECK_NAPI(env, napi_create_reference(env, argv[0], 1, &ref));
  if (st->view) napi_delete_reference(env, st->view);
  st->view = ref;
  st->base = base;
  st->length = (uint64_t)length * 4;
  napi_value out;
  CHECK_NAPI(env, napi_create_double(env, (double)st->length, &out));
  return out;
}

/* ---- threads, info, peak ---------------------------------------------------------------------------- */

static napi_value js_set_threads(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t n;
  if (argc < 1) return throw_type(env, "setThreads: expected a thread count");
  if (!get_count(env, argv[0], "setThreads", "n", 1024, &n)) return NULL;
  if (n < 1) return throw_range(env, "setThreads: n must be at least 1");
  if (eapgp_split_set_threads((int)n) != 0) {
    napi_throw_error(env, "ERR_EAPGP_BLAS", "setThreads: could not start the threads");
    return NULL;
  }
  return NULL;
}

/*
 * setKBlock(n): products with K > n run as ceil(K/n) calls of at most n, accumulating into C: each call is then
 * one OpenBLAS K block (GEMM_Q, 384 for sgemm on current x86 cores), K <= n or a multiple of n passes through
 * unchanged, n = 0 turns it off. Results do not depend on the thread count either way (split.c); this keeps the
 * arithmetic of a product the same however its rows are cut.
 */
static napi_value js_set_kblock(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  void *data;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, &data));
  int64_t n;
  if (argc < 1) return throw_type(env, "setKBlock: expected a block size");
  if (!get_count(env, argv[0], "setKBlock", "n", INT_MAXD, &n)) return NULL;
  (void)data;
  eapgp_split_set_kblock(n);
  return NULL;
}

static int blas_threads(void) { return eapgp_split_threads(); }

static napi_value js_get_threads(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  CHECK_NAPI(env, napi_create_int32(env, blas_threads(), &out));
  return out;
}

static bool set_str(napi_env env, napi_value obj, const char *key, const char *val) {
  napi_value v;
  if (napi_create_string_utf8(env, val ? val : "", NAPI_AUTO_LENGTH, &v) != napi_ok) return false;
  return napi_set_named_property(env, obj, key, v) == napi_ok;
}
static bool set_num(napi_env env, napi_value obj, const char *key, double val) {
  napi_value v;
  if (napi_create_double(env, val, &v) != napi_ok) return false;
  return napi_set_named_property(env, obj, key, v) == napi_ok;
}

static napi_value js_info(napi_env env, napi_callback_info info) {
  void *data;
  size_t argc = 0;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, NULL, NULL, &data));
  state_t *st = (state_t *)data;
  napi_value obj;
  CHECK_NAPI(env, napi_create_object(env, &obj));
  bool ok = true;
#ifdef EAPGP_OPENBLAS
  ok = ok && set_str(env, obj, "config", openblas_get_config());
  ok = ok && set_str(env, obj, "corename", openblas_get_corename());
  int par = openblas_get_parallel();
  ok = ok && set_str(env, obj, "parallel", par == 0 ? "sequential" : par == 1 ? "pthreads" : par == 2 ? "openmp" : "unknown");
#else
  ok = ok && set_str(env, obj, "config", "CBLAS (not OpenBLAS)");
#endif
  ok = ok && set_num(env, obj, "threads", blas_threads());
  ok = ok && set_str(env, obj, "peakIsa", eapgp_peak_isa());
  ok = ok && set_num(env, obj, "memoryBytes", (double)st->length);
  if (!ok) return throw_type(env, "info: could not build the result object");
  return obj;
}

static napi_value js_peak(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  size_t argc = 2;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t threads = 1, ms = 200;
  if (argc >= 1 && !get_count(env, argv[0], "peakGflops", "threads", 256, &threads)) return NULL;
  if (argc >= 2 && !get_count(env, argv[1], "peakGflops", "ms", 60000, &ms)) return NULL;
  if (threads < 1) return throw_range(env, "peakGflops: threads must be at least 1");
  double g = eapgp_peak_gflops((int)threads, (double)(ms > 0 ? ms : 1));
  if (g < 0) {
    napi_throw_error(env, "ERR_EAPGP_BLAS", "peakGflops: could not start the measuring threads");
    return NULL;
  }
  napi_value out;
  CHECK_NAPI(env, napi_create_double(env, g, &out));
  return out;
}

/* ---- module ---------------------------------------------------------------------------------------- */

static void finalize_state(napi_env env, void *data, void *hint) {
  (void)hint;
  (void)env; /* the reference itself is released with the environment */
  free(data);
}

NAPI_MODULE_INIT() {
  state_t *st = (state_t *)calloc(1, sizeof(state_t));
  if (!st) {
    napi_throw_error(env, "ERR_EAPGP_BLAS", "eapgp_blas: out of memory");
    return NULL;
  }
  if (napi_set_instance_data(env, st, finalize_state, NULL) != napi_ok) {
    free(st);
    return NULL;
  }
  napi_property_descriptor props[] = {
      {"setMemory", NULL, js_set_memory, NULL, NULL, NULL, napi_enumerable, st},
      {"sgemm", NULL, js_sgemm, NULL, NULL, NULL, napi_enumerable, st},
      {"sgemmBatched", NULL, js_sgemm_batched, NULL, NULL, NULL, napi_enumerable, st},
      {"setThreads", NULL, js_set_threads, NULL, NULL, NULL, napi_enumerable, st},
      {"setKBlock", NULL, js_set_kblock, NULL, NULL, NULL, napi_enumerable, st},
      {"getThreads", NULL, js_get_threads, NULL, NULL, NULL, napi_enumerable, st},
      {"info", NULL, js_info, NULL, NULL, NULL, napi_enumerable, st},
      {"peakGflops", NULL, js_peak, NULL, NULL, NULL, napi_enumerable, st},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  /* default: one thread per online core (setThreads changes it); the library itself stays at one thread */
  if (eapgp_split_threads() == 1) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    eapgp_split_set_threads(cores > 0 ? (int)cores : 1);
  }
  return exports;
}
