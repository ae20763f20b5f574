/* Does the linked BLAS give the same bits on 1, 2 and 3 threads? SGEMM on the shapes of
 * convolutions (forward, input and weight gradients) and dense layers (batch 1 and 2, both
 * operands transposed or not; the last three: ResNet-50 batch 2 weight gradients at 28x28 and
 * its fc's input gradient), and SGEMV for comparison (lrc calls only cblas_sgemm).
 *
 *   gcc -O2 bench/blas_threads.c -o /tmp/blas_threads -lopenblas && /tmp/blas_threads
 *
 * Exit status 1 when any SGEMM differs. docs/benchmarks.md "Threads and the checkpoint anchor". */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void openblas_set_num_threads(int);

static float* randoms(long n, unsigned seed) {
  float* p = malloc((size_t)n * sizeof(float));
  srand(seed);
  for (long i = 0; i < n; ++i) p[i] = (float)rand() / (float)RAND_MAX - 0.5f;
  return p;
}

int main(void) {
  const struct {
    int ta, tb, M, N, K;
  } cases[] = {{0, 0, 64, 3136, 576},  {0, 1, 576, 3136, 64},  {1, 0, 256, 3136, 2304}, {0, 0, 512, 196, 4608},
               {1, 1, 1000, 8, 4096},  {0, 1, 4096, 25088, 2}, {0, 0, 2, 4096, 25088},  {0, 1, 1, 4096, 25088},
               {0, 0, 4096, 1, 25088}, {1, 0, 1, 1000, 4096},  {0, 1, 4096, 25088, 1},  {0, 1, 128, 1152, 784},
               {0, 1, 512, 128, 784},  {0, 0, 2, 2048, 1000}};
  int differ = 0;
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
    const int M = cases[c].M, N = cases[c].N, K = cases[c].K;
    float *A = randoms((long)M * K, 1), *B = randoms((long)K * N, 2), *C[3];
    for (int t = 1; t <= 3; ++t) {
      openblas_set_num_threads(t);
      C[t - 1] = randoms((long)M * N, 3);
      cblas_sgemm(CblasRowMajor, cases[c].ta ? CblasTrans : CblasNoTrans, cases[c].tb ? CblasTrans : CblasNoTrans, M,
                  N, K, 1.0f, A, cases[c].ta ? M : K, B, cases[c].tb ? K : N, 1.0f, C[t - 1], N);
    }
    const size_t bytes = (size_t)M * N * sizeof(float);
    const int same = !memcmp(C[0], C[1], bytes) && !memcmp(C[0], C[2], bytes);
    printf("sgemm %c%c %dx%dx%d: 1/2/3 threads %s\n", cases[c].ta ? 'T' : 'N', cases[c].tb ? 'T' : 'N', M, N, K,
           same ? "bitwise equal" : "DIFFER");
    differ |= !same;
    free(A), free(B), free(C[0]), free(C[1]), free(C[2]);
  }
  for (int tr = 0; tr < 2; ++tr) {
    const int M = 4096, N = 25088, n = tr ? N : M;
    float *A = randoms((long)M * N, 4), *x = randoms(tr ? M : N, 5), *y[3];
    for (int t = 1; t <= 3; ++t) {
      openblas_set_num_threads(t);
      y[t - 1] = randoms(n, 6);
      cblas_sgemv(CblasRowMajor, tr ? CblasTrans : CblasNoTrans, M, N, 1.0f, A, N, x, 1, 1.0f, y[t - 1], 1);
    }
    const int same = !memcmp(y[0], y[1], (size_t)n * sizeof(float)) && !memcmp(y[0], y[2], (size_t)n * sizeof(float));
    printf("sgemv %c %dx%d: 1/2/3 threads %s (not used by lrc)\n", tr ? 'T' : 'N', M, N,
           same ? "bitwise equal" : "differ");
    free(A), free(x), free(y[0]), free(y[1]), free(y[2]);
  }
  return differ;
}
