"""Named error budgets for every comparison the tests make (after ggml's MAX_* constants).

english_g2's logits reach |45|; PyTorch float64 vs float32 differ by 1.7e-4 and onnxruntime
by 1.3e-4 (shared/models/english_g2.md section 7), so these leave headroom without hiding
real bugs (a wrong gate order or padding rule is off by orders of magnitude).
"""

#: FP32 engine vs PyTorch reference logits (absolute), both kernel backends.
LOGITS_ATOL = 2e-3
#: Per-layer intermediates of the reference case (absolute; activations are O(10)).
INTERMEDIATE_ATOL = 2e-3
#: Line confidence vs the reference decoding.
CONFIDENCE_ATOL = 1e-4
#: Preprocessed input tensor vs the reference input (float32 rounding of (u8/255-0.5)/0.5).
INPUT_ATOL = 1e-6

#: Numba float kernel vs its NumPy twin: fastmath reassociates sums, so compare relative to
#: the output's scale: |a - b| <= KERNEL_ATOL + KERNEL_RTOL * |b|.
KERNEL_RTOL = 1e-4
KERNEL_ATOL = 1e-4
#: LSTM outputs are bounded by 1 and sequential errors compound slightly.
LSTM_ATOL = 1e-4
#: Winograd conv (F(4x4, 3x3), F(3x3, 2x2)) vs the direct NumPy conv: |a - b| <= WINOGRAD_REL * max|b| over the
#: output. The transforms (entries 4, 5, 8, 1/24) lose more fp32 bits than a direct sum: measured
#: worst 8.1e-6 for F(4x4, 3x3) over 300 random cases (C 8-80, standard-normal data; direct fp32 vs
#: float64: 8.7e-7), 9.1e-7 for F(3x3, 2x2) (200 cases).
WINOGRAD_REL = 5e-5

# ---- int8 (quant_version 1) -------------------------------------------------------------------
#: INT8 english_g2 logits vs the PyTorch FP32 reference on tests/data/english_g2, NMSE over a case
#: (sum (a-b)^2 / sum b^2). Measured worst case 3.9e-4 on the shipped file (both backends); the
#: bound leaves ~2.5x headroom (a broken scale or gate order gives NMSE > 1e-1).
INT8_LOGITS_NMSE = 1e-3
#: Per-row symmetric int8 weights: relative RMSE ||dq(q(w)) - w|| / ||w|| on Gaussian rows
#: (uniform rounding error of scale/sqrt(12) with scale = max|w|/127).
QUANT_ROUNDTRIP_REL_RMSE = 0.02
#: INT8 PP-OCRv2 (weights/ppocrv2_zh_int8.tcrnn: pointwise convs cnn.10-cnn.26, LSTMs and linears int8)
#: probabilities vs the FP32 model's on the golden lines in tests/data/ppocrv2, NMSE over a line.
#: Measured worst case 3.9e-4 (line "zh", numpy backend; numba 1.6e-4); ~2.5x headroom.
INT8_PPOCR_PROBS_NMSE = 1e-3
#: NumPy twins of an INT8 model: a line alone vs in a batch of 3 (BLAS may order a 1-row and a 3-row
#: matmul differently; the next layer's per-line int8 rounding can flip a step). Absolute, on logits of
#: |45|; the Numba kernels are exact.
TWIN_BATCH_ATOL = 0.5
#: PP-OCRv2 probabilities of a line alone vs in a batch. The NumPy twins' matmuls go through BLAS, which may
#: sum a 1-row and a 2-row product in another order (measured 1.9e-6 on an AMD Zen 3 core; 0 on the Intel
#: machine and for the Numba kernels everywhere).
BATCH_PROBS_ATOL = 1e-5

# ---- graph models (DB detector, orientation classifier) ----------------------------------------
#: Numba sigmoid (fastmath exp) vs NumPy's, absolute on values in [0, 1].
GRAPH_SIGMOID_ATOL = 1e-6
#: PP-OCRv4 DB probability map vs onnxruntime 1.x (tests/data/ppocr_det), absolute, both backends.
#: Measured worst 4.3e-5 on 3 SROIE photos at short side 736 and 3.3e-5 on samples/receipt.png
#: (benchmarks/bench_det.py); ~10x headroom. A wrong fold (BN, affine, up-sampling) is off by > 1e-2.
DET_PROB_ATOL = 5e-4
#: Share of pixels on different sides of DB's 0.3 binarisation threshold vs onnxruntime (measured 0).
DET_THRESH_FLIP_FRACTION = 1e-4
#: Orientation classifier probabilities vs onnxruntime (measured 8e-9); absolute.
CLS_PROB_ATOL = 1e-5
