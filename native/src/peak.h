#ifndef EAPGP_PEAK_H
#define EAPGP_PEAK_H
/* fp32 FMA peak of this CPU in GFLOP/s, measured with `threads` threads for about `ms` milliseconds; < 0 on failure. */
double eapgp_peak_gflops(int threads, double ms);
/* Instruction set the peak kernel uses: "avx512f", "avx2+fma" or "generic". */
const char *eapgp_peak_isa(void);
#endif
