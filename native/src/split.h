/*
 * Thread-count-independent parallel sgemm: every product is cut into blocks by its shape alone, each block is one
 * single-threaded CBLAS call, and a pool of our own threads takes the blocks in any order. The bits of C then
 * depend on the shape, never on the thread count, whatever the BLAS library does inside a call (OpenBLAS's
 * multi-threaded drivers do not give the same bits as its single-threaded one on every core type).
 */
#ifndef EAPGP_SPLIT_H
#define EAPGP_SPLIT_H

#include <stdbool.h>
#include <stdint.h>

/* One row-major product C = alpha·op(A)·op(B) + beta·C (ld in elements). */
typedef struct {
  bool tA, tB;
  int64_t M, N, K;
  float alpha, beta;
  const float *a, *b;
  float *c;
  int64_t lda, ldb, ldc;
} eapgp_gemm_t;

/* Threads used by eapgp_split_gemm (the calling one included); starts or stops pool threads. Returns 0 on success. */
int eapgp_split_set_threads(int n);
int eapgp_split_threads(void);
/* Products with K above kblock run as calls of at most kblock (0: never), accumulating into C. */
void eapgp_split_set_kblock(int64_t kblock);
/* Runs `count` products (e.g. a batch) over the pool; returns when all are done. Returns 0, or -1 without memory. */
int eapgp_split_gemm(const eapgp_gemm_t *calls, int64_t count);

#endif
