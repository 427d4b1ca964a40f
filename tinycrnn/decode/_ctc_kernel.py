"""Numba twins of ``ctc.py``: batched forward log-likelihood and Viterbi best path.

NOTE: log-space kernels carry ``-inf`` (classes with probability 0, labellings no path fits);
fastmath assumes no infinities, so these use ``NUMBA_FLAGS_EXACT``.
"""
import math

import numpy as np
from numba import njit

from ..config import NUMBA_FLAGS_EXACT

NEG_INF = -np.inf


@njit(inline="always", **NUMBA_FLAGS_EXACT)
def logaddexp(a, b):
    if a < b:
        a, b = b, a
    if b == NEG_INF:
        return a
    return a + math.log1p(math.exp(b - a))


@njit(**NUMBA_FLAGS_EXACT)
def forward_batch(log_probs, flat, offsets, sel, blank, alpha, out):
    # out[i] = logsumexp over paths collapsing to labelling sel[i]; alpha (2, >= 2L+1) scratch
    T = log_probs.shape[0]
    for i in range(sel.shape[0]):
        o = offsets[sel[i]]
        L = offsets[sel[i] + 1] - o
        S = 2 * L + 1
        if T == 0:
            out[i] = 0.0 if L == 0 else NEG_INF
            continue
        for s in range(S):
            alpha[0, s] = NEG_INF
        alpha[0, 0] = log_probs[0, blank]
        if L > 0:
            alpha[0, 1] = log_probs[0, flat[o]]
        cur = 0
        for t in range(1, T):
            nxt = 1 - cur
            lo = S - 2 * (T - t)  # states below lo can no longer reach the end
            hi = 2 * t + 2  # states at or above hi are not reachable yet
            for s in range(S):
                if s < lo or s >= hi:
                    alpha[nxt, s] = NEG_INF
                    continue
                a = alpha[cur, s]
                if s >= 1:
                    a = logaddexp(a, alpha[cur, s - 1])
                if s % 2 == 1:
                    lab = flat[o + s // 2]
                    if s >= 3 and lab != flat[o + s // 2 - 1]:
                        a = logaddexp(a, alpha[cur, s - 2])
                else:
                    lab = blank
                alpha[nxt, s] = a + log_probs[t, lab]
            cur = nxt
        out[i] = logaddexp(alpha[cur, S - 1], alpha[cur, S - 2]) if S > 1 else alpha[cur, 0]


@njit(**NUMBA_FLAGS_EXACT)
def best_path(log_probs, labels, blank, delta, back, path):
    # Viterbi over the 2L+1 states; back (T, S) int8 = 0 stay / 1 from s-1 / 2 from s-2; returns score
    T = log_probs.shape[0]
    L = labels.shape[0]
    S = 2 * L + 1
    if T == 0:
        return 0.0 if L == 0 else NEG_INF
    for s in range(S):
        delta[0, s] = NEG_INF
    delta[0, 0] = log_probs[0, blank]
    if L > 0:
        delta[0, 1] = log_probs[0, labels[0]]
    cur = 0
    for t in range(1, T):
        nxt = 1 - cur
        for s in range(S):
            best = delta[cur, s]
            arg = 0
            if s >= 1 and delta[cur, s - 1] > best:
                best = delta[cur, s - 1]
                arg = 1
            if s % 2 == 1:
                lab = labels[s // 2]
                if s >= 3 and lab != labels[s // 2 - 1] and delta[cur, s - 2] > best:
                    best = delta[cur, s - 2]
                    arg = 2
            else:
                lab = blank
            back[t, s] = arg
            delta[nxt, s] = best + log_probs[t, lab]
        cur = nxt
    s = S - 1
    if S > 1 and delta[cur, S - 2] > delta[cur, S - 1]:
        s = S - 2
    score = delta[cur, s]
    for t in range(T - 1, -1, -1):
        path[t] = blank if s % 2 == 0 else labels[s // 2]
        s -= back[t, s]
    return score
