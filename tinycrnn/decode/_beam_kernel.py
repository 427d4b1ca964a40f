"""Numba prefix beam search, the hot loop of :func:`tinycrnn.decode.beam.ctc_beam`.

Prefixes live in a trie (parent / label / first-child / next-sibling arrays), so extending two
beam entries to the same string lands on the same node: merging costs nothing. The wrapper
allocates every array; the kernels only fill them.

NOTE: log-space with ``-inf`` for impossible prefixes; fastmath assumes no infinities, so these
use ``NUMBA_FLAGS_EXACT``.
"""
import math

import numpy as np
from numba import njit

from ..config import NUMBA_FLAGS_EXACT
from ._ctc_kernel import logaddexp

NEG_INF = -np.inf


@njit(inline="always", **NUMBA_FLAGS_EXACT)
def _log(p):
    return math.log(p) if p > 0.0 else NEG_INF


@njit(**NUMBA_FLAGS_EXACT)
def select_candidates(probs, blank, threshold, cand, ncand):
    # per step t: the non-blank classes with p >= threshold (and p > 0), most probable first
    # (ties: lower class first), at most cand.shape[1] of them -> cand[t, :ncand[t]]
    T, K = probs.shape
    C = cand.shape[1]
    for t in range(T):
        n = 0
        for k in range(K):
            p = probs[t, k]
            if k == blank or p < threshold or p <= 0.0:
                continue
            if n == C and p <= probs[t, cand[t, C - 1]]:
                continue
            j = n if n < C else C - 1
            while j > 0 and probs[t, cand[t, j - 1]] < p:
                cand[t, j] = cand[t, j - 1]
                j -= 1
            cand[t, j] = k
            if n < C:
                n += 1
        ncand[t] = n


@njit(inline="always", **NUMBA_FLAGS_EXACT)
def _worse(score, a, b):
    # entry a ranks below entry b: lower score, or equal score and touched later
    return score[a] < score[b] or (score[a] == score[b] and a > b)


@njit(**NUMBA_FLAGS_EXACT)
def _sift_down(heap, m, score):
    i = 0
    while True:
        left = 2 * i + 1
        if left >= m:
            return
        c = left
        if left + 1 < m and _worse(score, heap[left + 1], heap[left]):
            c = left + 1
        if not _worse(score, heap[c], heap[i]):
            return
        heap[i], heap[c] = heap[c], heap[i]
        i = c


@njit(**NUMBA_FLAGS_EXACT)
def _sift_up(heap, i, score):
    while i > 0:
        up = (i - 1) // 2
        if not _worse(score, heap[i], heap[up]):
            return
        heap[i], heap[up] = heap[up], heap[i]
        i = up


@njit(**NUMBA_FLAGS_EXACT)
def prefix_beam(probs, blank, cand, ncand, beam_width,
                parent, label, first_child, next_sibling, stamp, pb_new, pnb_new,
                touched, score, heap, lcand, beam_node, beam_pb, beam_pnb):
    # log P(prefix, path ends in blank) = pb, (... ends in the prefix's last label) = pnb.
    # Node 0 is the empty prefix. Returns the final beam size; the beam is in beam_* (unsorted).
    T = probs.shape[0]
    parent[0] = -1
    label[0] = -1
    first_child[0] = -1
    next_sibling[0] = -1
    stamp[0] = -1
    n_nodes = 1
    beam_node[0] = 0
    beam_pb[0] = 0.0
    beam_pnb[0] = NEG_INF
    nbeam = 1
    for t in range(T):
        lblank = _log(probs[t, blank])
        for j in range(ncand[t]):
            lcand[j] = _log(probs[t, cand[t, j]])
        ntouch = 0
        for i in range(nbeam):
            n = beam_node[i]
            pb = beam_pb[i]
            pnb = beam_pnb[i]
            ptot = logaddexp(pb, pnb)
            if stamp[n] != t:
                stamp[n] = t
                pb_new[n] = NEG_INF
                pnb_new[n] = NEG_INF
                touched[ntouch] = n
                ntouch += 1
            pb_new[n] = logaddexp(pb_new[n], ptot + lblank)
            last = label[n]
            if n != 0:
                pnb_new[n] = logaddexp(pnb_new[n], pnb + _log(probs[t, last]))
            for j in range(ncand[t]):
                c = cand[t, j]
                ch = first_child[n]
                while ch != -1 and label[ch] != c:
                    ch = next_sibling[ch]
                if ch == -1:
                    ch = n_nodes
                    n_nodes += 1
                    parent[ch] = n
                    label[ch] = c
                    first_child[ch] = -1
                    next_sibling[ch] = first_child[n]
                    first_child[n] = ch
                    stamp[ch] = -1
                if stamp[ch] != t:
                    stamp[ch] = t
                    pb_new[ch] = NEG_INF
                    pnb_new[ch] = NEG_INF
                    touched[ntouch] = ch
                    ntouch += 1
                # a repeated label only starts a new character after a blank
                src = pb if c == last else ptot
                pnb_new[ch] = logaddexp(pnb_new[ch], src + lcand[j])
        for i in range(ntouch):
            score[i] = logaddexp(pb_new[touched[i]], pnb_new[touched[i]])
        m = 0
        for i in range(ntouch):
            if m < beam_width:
                heap[m] = i
                _sift_up(heap, m, score)
                m += 1
            elif _worse(score, heap[0], i):
                heap[0] = i
                _sift_down(heap, m, score)
        for i in range(m):
            n = touched[heap[i]]
            beam_node[i] = n
            beam_pb[i] = pb_new[n]
            beam_pnb[i] = pnb_new[n]
        nbeam = m
    return nbeam
