/* Issue rates of the AVX2 integer multiply-add instructions against FP32 FMA on one core (why int8 on AVX2 without
   VNNI is at most ~1.6x FP32 per multiply): gcc -O2 -o /tmp/avx2_rates benchmarks/avx2_port_rates.c && /tmp/avx2_rates
   Thread CPU time; "per cycle" assumes 3.2 GHz (this Zen 3 VM; edit GHZ for another core). 12 independent chains. */
#include <stdio.h>
#include <time.h>
#define GHZ 3.2e9
static double now(){struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID,&t); return t.tv_sec+t.tv_nsec*1e-9;}
#define CL "memory","cc","xmm0","xmm1","xmm2","xmm3","xmm4","xmm5","xmm6","xmm7","xmm8","xmm9","xmm10","xmm11","xmm12","xmm13","xmm14","xmm15"
int main(){
  long K=400000000/12; double t;
  t=now(); { long k=K; __asm__ volatile("1:\n"
#define M(d) "vpmaddwd %%ymm12,%%ymm13," d "\n"
   M("%%ymm0") M("%%ymm1") M("%%ymm2") M("%%ymm3") M("%%ymm4") M("%%ymm5") M("%%ymm6") M("%%ymm7") M("%%ymm8") M("%%ymm9") M("%%ymm10") M("%%ymm11")
   "dec %0\n jnz 1b\n" : "+r"(k) :: CL); }
  t=now()-t; printf("pmaddwd only: %.2f per cycle \n", K*12/t/GHZ);
  t=now(); { long k=K; __asm__ volatile("1:\n"
#define A(d) "vpaddd %%ymm12," d "," d "\n"
   A("%%ymm0") A("%%ymm1") A("%%ymm2") A("%%ymm3") A("%%ymm4") A("%%ymm5") A("%%ymm6") A("%%ymm7") A("%%ymm8") A("%%ymm9") A("%%ymm10") A("%%ymm11")
   "dec %0\n jnz 1b\n" : "+r"(k) :: CL); }
  t=now()-t; printf("paddd only: %.2f per cycle\n", K*12/t/GHZ);
  t=now(); { long k=K; __asm__ volatile("1:\n"
#define MB(d) "vpmaddubsw %%ymm12,%%ymm13," d "\n"
   MB("%%ymm0") MB("%%ymm1") MB("%%ymm2") MB("%%ymm3") MB("%%ymm4") MB("%%ymm5") MB("%%ymm6") MB("%%ymm7") MB("%%ymm8") MB("%%ymm9") MB("%%ymm10") MB("%%ymm11")
   "dec %0\n jnz 1b\n" : "+r"(k) :: CL); }
  t=now()-t; printf("pmaddubsw only: %.2f per cycle\n", K*12/t/GHZ);
  t=now(); { long k=K; __asm__ volatile("1:\n"
#define F(d) "vfmadd231ps %%ymm12,%%ymm13," d "\n"
   F("%%ymm0") F("%%ymm1") F("%%ymm2") F("%%ymm3") F("%%ymm4") F("%%ymm5") F("%%ymm6") F("%%ymm7") F("%%ymm8") F("%%ymm9") F("%%ymm10") F("%%ymm11")
   "dec %0\n jnz 1b\n" : "+r"(k) :: CL); }
  t=now()-t; printf("fma only: %.2f per cycle\n", K*12/t/GHZ);
  t=now(); { long k=K; __asm__ volatile("1:\n"
#define MA(d) "vpmaddwd %%ymm12,%%ymm13,%%ymm14\n vpaddd %%ymm14," d "," d "\n"
   MA("%%ymm0") MA("%%ymm1") MA("%%ymm2") MA("%%ymm3") MA("%%ymm4") MA("%%ymm5") MA("%%ymm6") MA("%%ymm7") MA("%%ymm8") MA("%%ymm9") MA("%%ymm10") MA("%%ymm11")
   "dec %0\n jnz 1b\n" : "+r"(k) :: CL); }
  t=now()-t; printf("pmaddwd+paddd pairs: %.2f pairs per cycle\n", K*12/t/GHZ);
  /* u8 x s8 pairs: vpmaddubsw, then vpmaddwd with ones to widen, vpaddd: 32 multiply-adds per triple. Exact only for
     a 7-bit operand (2 * 127 * 128 < 32768), so it would need 7-bit activations or weights (RESULTS, fifth session). */
  t=now(); { long k=K; __asm__ volatile("1:\n"
#define MU(d) "vpmaddubsw %%ymm12,%%ymm13,%%ymm14\n vpmaddwd %%ymm15,%%ymm14,%%ymm14\n vpaddd %%ymm14," d "," d "\n"
   MU("%%ymm0") MU("%%ymm1") MU("%%ymm2") MU("%%ymm3") MU("%%ymm4") MU("%%ymm5") MU("%%ymm6") MU("%%ymm7") MU("%%ymm8") MU("%%ymm9") MU("%%ymm10") MU("%%ymm11")
   "dec %0\n jnz 1b\n" : "+r"(k) :: CL); }
  t=now()-t; printf("pmaddubsw+pmaddwd(ones)+paddd: %.2f triples per cycle = %.1f multiply-adds per cycle (pmaddwd+paddd: 16 per pair)\n", K*12/t/GHZ, 32*K*12/t/GHZ);
  return 0;
}
