/*
 * See split.h. A product of at least SPLIT_MIN_FLOP is cut along the longer side of C into blocks of a size
 * that depends only on that side (at most MAX_BLOCKS blocks, at least MIN_BLOCK rows or columns each); a
 * smaller product is one block. Every block is one CBLAS call with the library held at one thread, so its
 * arithmetic is what it is for any number of pool threads. The pool is the calling thread plus n − 1 pthreads
 * that sleep on a condition variable between products and take blocks through an atomic counter.
 */
#include "split.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#if defined(OPENBLAS_VERSION) || defined(OPENBLAS_CONFIG_H) || defined(OPENBLAS_OS_LINUX)
#define EAPGP_OPENBLAS 1
#endif

#define SPLIT_MIN_FLOP (1 << 22) /* below this, waking threads costs more than it saves */
#define MAX_BLOCKS 64
#define MIN_BLOCK 256
#define MAX_THREADS 256

typedef struct {
  const eapgp_gemm_t *call;
  int64_t start, count; /* rows (splitM) or columns of C */
  bool splitM;
} block_t;

static struct {
  pthread_mutex_t mu;
  pthread_cond_t wake, done;
  pthread_t threads[MAX_THREADS];
  long start_gen[MAX_THREADS]; /* gen when thread i was created: it waits for the next one */
  int started;   /* pool threads running (n − 1) */
  int wanted;    /* pool threads that should run */
  long gen;      /* bumped once per product set */
  int busy;      /* pool threads still working on the current set */
  block_t *blocks;
  int64_t nblocks;
  int64_t next; /* atomic: next block to take */
  int64_t kblock;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER};

/* One block: the same K handling as an unsplit call (see setKBlock in addon.c). */
static void run_block(const block_t *bl) {
  eapgp_gemm_t g = *bl->call;
  if (bl->splitM) {
    g.a += g.tA ? bl->start : bl->start * g.lda;
    g.c += bl->start * g.ldc;
    g.M = bl->count;
  } else {
    g.b += g.tB ? bl->start * g.ldb : bl->start;
    g.c += bl->start;
    g.N = bl->count;
  }
  const enum CBLAS_TRANSPOSE ta = g.tA ? CblasTrans : CblasNoTrans, tb = g.tB ? CblasTrans : CblasNoTrans;
  if (g.K == 0) {
    /* empty inner dimension: C = beta·C, and beta = 0 must clear NaNs too (not every CBLAS does this) */
    for (int64_t r = 0; r < g.M; r++) {
      float *row = g.c + r * g.ldc;
      if (g.beta == 0.0f)
        memset(row, 0, (size_t)g.N * sizeof(float));
      else
        for (int64_t j = 0; j < g.N; j++) row[j] *= g.beta;
    }
    return;
  }
  const int64_t kb = pool.kblock;
  if (kb <= 0 || g.K % kb == 0) {
    cblas_sgemm(CblasRowMajor, ta, tb, (int)g.M, (int)g.N, (int)g.K, g.alpha, g.a, (int)g.lda, g.b, (int)g.ldb, g.beta,
                g.c, (int)g.ldc);
    return;
  }
  for (int64_t k0 = 0; k0 < g.K; k0 += kb) {
    const int64_t kc = g.K - k0 < kb ? g.K - k0 : kb;
    const float *ak = g.tA ? g.a + k0 * g.lda : g.a + k0;
    const float *bk = g.tB ? g.b + k0 : g.b + k0 * g.ldb;
    cblas_sgemm(CblasRowMajor, ta, tb, (int)g.M, (int)g.N, (int)kc, g.alpha, ak, (int)g.lda, bk, (int)g.ldb,
                k0 == 0 ? g.beta : 1.0f, g.c, (int)g.ldc);
  }
}

static void take_blocks(void) {
  for (;;) {
    const int64_t i = __atomic_fetch_add(&pool.next, 1, __ATOMIC_RELAXED);
    if (i >= pool.nblocks) return;
    run_block(&pool.blocks[i]);
  }
}

static void *worker(void *arg) {
  const int id = (int)(intptr_t)arg;
  pthread_mutex_lock(&pool.mu);
  /* not pool.gen: a product may have started (and counted this thread busy) before this thread runs */
  long seen = pool.start_gen[id];
  for (;;) {
    while (pool.gen == seen && id < pool.wanted) pthread_cond_wait(&pool.wake, &pool.mu);
    if (id >= pool.wanted) break;
    seen = pool.gen;
    pthread_mutex_unlock(&pool.mu);
    take_blocks();
    pthread_mutex_lock(&pool.mu);
    if (--pool.busy == 0) pthread_cond_signal(&pool.done);
  }
  pthread_mutex_unlock(&pool.mu);
  return NULL;
}

int eapgp_split_set_threads(int n) {
  if (n < 1) n = 1;
  if (n > MAX_THREADS) n = MAX_THREADS;
#ifdef EAPGP_OPENBLAS
  openblas_set_num_threads(1); /* every call is one block on one thread; the pool does the rest */
#endif
  pthread_mutex_lock(&pool.mu);
  pool.wanted = n - 1;
  pthread_cond_broadcast(&pool.wake); /* threads past the new count leave */
  pthread_mutex_unlock(&pool.mu);
  while (pool.started > n - 1) pthread_join(pool.threads[--pool.started], NULL);
  while (pool.started < n - 1) {
    pool.start_gen[pool.started] = pool.gen;
    if (pthread_create(&pool.threads[pool.started], NULL, worker, (void *)(intptr_t)pool.started) != 0) {
      pool.wanted = pool.started;
      return -1;
    }
    pool.started++;
  }
  return 0;
}

int eapgp_split_threads(void) { return pool.started + 1; }

void eapgp_split_set_kblock(int64_t kblock) { pool.kblock = kblock; }

/* Blocks of one product: a function of its shape only. */
static int64_t plan(const eapgp_gemm_t *g, block_t *out) {
  const bool splitM = g->M > g->N;
  const int64_t side = splitM ? g->M : g->N;
  int64_t n = 1, size = side;
  if (2.0 * (double)g->M * (double)g->N * (double)g->K >= SPLIT_MIN_FLOP && side >= 2 * MIN_BLOCK) {
    n = (side + MIN_BLOCK - 1) / MIN_BLOCK;
    if (n > MAX_BLOCKS) n = MAX_BLOCKS;
    size = ((side + n - 1) / n + 15) / 16 * 16;
    n = (side + size - 1) / size;
  }
  if (out)
    for (int64_t i = 0; i < n; i++) {
      const int64_t s = i * size;
      out[i] = (block_t){g, s, side - s < size ? side - s : size, splitM};
    }
  return n;
}

int eapgp_split_gemm(const eapgp_gemm_t *calls, int64_t count) {
  int64_t total = 0;
  for (int64_t i = 0; i < count; i++) total += plan(&calls[i], NULL);
  if (total == 0) return 0;
  block_t one;
  block_t *blocks = total == 1 ? &one : (block_t *)malloc((size_t)total * sizeof(block_t));
  if (!blocks) return -1;
  int64_t k = 0;
  for (int64_t i = 0; i < count; i++) k += plan(&calls[i], blocks + k);
  pool.blocks = blocks;
  pool.nblocks = total;
  pool.next = 0;
  const int helpers = total > 1 ? pool.started : 0;
  if (helpers > 0) {
    pthread_mutex_lock(&pool.mu);
    pool.busy = pool.started;
    pool.gen++;
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);
  }
  take_blocks();
  if (helpers > 0) {
    pthread_mutex_lock(&pool.mu);
    while (pool.busy > 0) pthread_cond_wait(&pool.done, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
  }
  if (blocks != &one) free(blocks);
  return 0;
}
