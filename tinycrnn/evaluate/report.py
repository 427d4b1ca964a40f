"""Text tables for ``tinycrnn eval`` results (strings only; the CLI prints them)."""
from typing import List

from .runner import EvalResult


def _pct(x: float) -> str:
    return f"{x:6.2f}"


def _opt(x) -> str:
    return "-" if x is None else f"{x:.4f}"


def format_results(results: List[EvalResult], confusions: int = 8) -> str:
    """One table row per dataset (and per folder where a dataset has several), then each
    line dataset's most frequent substitutions, deletions and insertions."""
    out = []
    lines = [r for r in results if r.protocol != "page"]
    pages = [r for r in results if r.protocol == "page"]
    if lines:
        out.append(f"{'dataset':<22} {'protocol':<8} {'N':>6} {'accuracy':>9} {'raw':>7} {'CER':>7} {'ms/line':>8}")
        for r in lines:
            s = r.summary
            out.append(f"{r.dataset:<22} {r.protocol:<8} {s['n']:>6} {_pct(s['accuracy']):>9} {_pct(s['raw_accuracy']):>7} "
                       f"{s['cer']:7.4f} {s['ms_per_item']:8.1f}")
            for g, gs in s.get("groups", {}).items():
                out.append(f"{'  ' + g:<22} {'':<8} {gs['n']:>6} {_pct(gs['accuracy']):>9} {_pct(gs['raw_accuracy']):>7} "
                           f"{gs['cer']:7.4f}")
        out.append("accuracy: exact match after the protocol's normalisation (%); raw: exact match of the "
                   "unnormalised strings (%); CER: edit distance / label length, normalised")
    if pages:
        if out:
            out.append("")
        out.append(f"{'dataset':<22} {'pages':>5} {'det P':>6} {'det R':>6} {'det F1':>6} {'tok P':>6} {'tok R':>6} "
                   f"{'tok F1':>6} {'line CER':>8} {'page CER':>8} {'s/page':>7}")
        for r in pages:
            s = r.summary
            det = " ".join(f"{v:6.3f}" if v is not None else f"{'-':>6}"
                           for v in (s["det_precision"], s["det_recall"], s["det_f1"]))
            out.append(f"{r.dataset:<22} {s['n']:>5} {det} "
                       f"{s['token_precision']:6.3f} {s['token_recall']:6.3f} {s['token_f1']:6.3f} "
                       f"{_opt(s['matched_line_cer']):>8} {_opt(s.get('page_cer')):>8} {s['median_s_per_page']:7.2f}")
        out.append("det: line boxes matched one-to-one at IoU >= 0.5; tok: case-insensitive whitespace tokens, "
                   "multiset, pooled over pages; line CER over matched boxes; page CER: "
                   "all lines joined; s/page: median; -: no boxes in the ground truth")
    for r in lines:
        c = r.summary["confusions"]
        if confusions and (c["substitutions"] or c["deletions"] or c["insertions"]):
            subs = ", ".join(f"{a!r}->{b!r} {n}" for a, b, n in c["substitutions"][:confusions]) or "none"
            dels = ", ".join(f"{a!r} {n}" for a, n in c["deletions"][:confusions]) or "none"
            ins = ", ".join(f"{a!r} {n}" for a, n in c["insertions"][:confusions]) or "none"
            out.append(f"\n{r.dataset}: most frequent confusions (label -> prediction, normalised)")
            out.append(f"  substituted: {subs}")
            out.append(f"  dropped:     {dels}")
            out.append(f"  inserted:    {ins}")
        if r.summary.get("unreadable"):
            out.append(f"{r.dataset}: {r.summary['unreadable']} images could not be read "
                       f"(first: {r.summary['unreadable_first'][0]})")
    return "\n".join(out)


PRED_COLUMNS = ("dataset", "path", "label", "prediction", "confidence", "correct", "edit_distance")


def write_predictions(path: str, results: List[EvalResult]) -> int:
    """Write per-item predictions as TSV (tabs and newlines inside texts become spaces); returns rows written."""
    def clean(v) -> str:
        return str(v).replace("\t", " ").replace("\n", " ").replace("\r", " ")

    n = 0
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        line_results = [r for r in results if r.protocol != "page"]
        page_results = [r for r in results if r.protocol == "page"]
        if line_results:
            f.write("\t".join(PRED_COLUMNS) + "\n")
            for r in line_results:
                for rec in r.records:
                    f.write("\t".join(clean(x) for x in (r.dataset, rec["path"], rec["label"], rec["prediction"],
                                                          f"{rec['confidence']:.6f}", int(rec["correct"]),
                                                          rec["edit_distance"])) + "\n")
                    n += 1
        if page_results:
            keys = list(page_results[0].records[0]) if page_results[0].records else []
            f.write("\t".join(["dataset"] + keys) + "\n")
            for r in page_results:
                for rec in r.records:
                    f.write("\t".join([r.dataset] + [clean(f"{rec[k]:.4f}" if isinstance(rec[k], float) else rec[k])
                                                      for k in keys]) + "\n")
                    n += 1
    return n
