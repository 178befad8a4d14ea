"""The national engine's extra columns: sector overlap, workshop groups and the weight Monte Carlo,
computed tile by tile with the same numbers as the in-memory engine.

Every per-cell score here is elementwise (a unit's weighted mean reads only that unit's values),
so a tile computes it with the in-memory code on its own cells. What is global is an order:

* **overlap** (``composite.Normalised.sector_top``): per sector, the cells whose sector score is
  at least the ⌈n/k⌉-th largest sector score; that one order statistic is read from the sector
  score's global distinct-value table (tiled.merge_tables), as the priority-class thresholds are;
* **groups** (``groups.group_scores``): each group's and the consensus score, their ranks
  (1 + scores above) and average-rank percentile ranks (n − r)/(n − 1) from the global
  distinct-score table of that group; the rank spread is elementwise over the groups;
* **weight uncertainty** (``uncertainty.monte_carlo``): the same Dirichlet draws (same weights,
  spread, seed, one call), each draw scored per tile with the in-memory batch code
  (float64), and each cell's rank in a draw = 1 + the number of cells in the whole grid that
  score higher in that draw, read from the draw's globally merged sorted scores. Each tile keeps
  its cells' ranks over all draws (4 bytes per cell and draw, spread over the workers) and takes
  p_top and the rank percentiles per cell, as the in-memory engine does per unit. Exact, so the
  cost is a global sort per draw: refused above MC_MAX_CELL_DRAWS cell-draws (see there).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .composite import Normalised, combined_score
from .errors import SkiktError

# Above this many cell-draws (cells × draws) --uncertainty is refused on the dask engine: the
# ranks alone are 4 bytes per cell-draw (4 GB here, spread over the workers), and every draw is a
# global sort of all scores. 1,000 draws over a million cells, or 143 over Sweden at 250 m.
MC_MAX_CELL_DRAWS = 1_000_000_000
# The merged sorted scores of one batch of draws live in one worker: at most this many bytes.
MC_TABLE_BYTES = 512 * 2**20


@dataclass
class ExtraSpec:
    """What a run adds to the standard columns, decided on the client."""

    sectors: list[np.ndarray]  # per sector with weight: the float32 weight vector of its indicators only
    group_ids: list[str]  # groups, in the project's order
    group_vectors: np.ndarray | None  # (g + 1, m) float64: each group's shares, then the consensus
    draws: np.ndarray | None = None  # (d, m) Dirichlet weights (one row when the spread is 0)
    spread_zero: bool = False  # spread 0: one draw stands for all (scored as combine does)
    n_draws: int = 0
    spread: float = 0.0
    concentration: float = 0.0
    seed: int = 0
    k: int = 5
    method: str = "mean"  # [combine]: the score of the map and of every draw
    alpha: float = 1.0

    @property
    def groups(self) -> bool:
        return self.group_vectors is not None

    @property
    def uncertainty(self) -> bool:
        return self.draws is not None


def sector_vectors(weights: np.ndarray, sectors: list[str]) -> list[np.ndarray]:
    """``Normalised.sector_top``'s weight vectors: per sector (first-seen order) with a positive
    weight sum, its own float32 weights and zero elsewhere."""
    w32 = np.asarray(weights, np.float32)
    names = np.array(sectors)
    out = []
    for sector in dict.fromkeys(sectors):
        idx = np.flatnonzero(names == sector)
        w = np.asarray(w32, float)[idx]
        if w.sum() <= 0:
            continue
        only = np.zeros(len(w32), np.float32)
        only[idx] = w
        out.append(only)
    return out


def group_vectors(project, layer_ids: list[str]) -> tuple[list[str], np.ndarray]:
    """The groups' weight shares over ``layer_ids`` and their mean (the consensus), as
    ``groups.group_scores`` makes them; the groups' own checks and refusals apply."""
    from .groups import GroupError, read_groups, weight_vector

    groups = read_groups(project)
    if not groups:
        raise GroupError.of("gerr_none", project.path)
    vectors = np.vstack([weight_vector(g, layer_ids, project.path) for g in groups])
    return [g.id for g in groups], np.vstack([vectors, vectors.mean(axis=0)])


def check_group_columns(project, group_ids: list[str], columns: list[str]) -> None:
    """``groups.score_table_with_groups``' refusal of a group column that repeats another column."""
    from .groups import GroupError

    extra = [c for g in group_ids for c in (f"{g}_score", f"{g}_rank")] + \
            ["consensus_score", "consensus_rank", "rank_spread"]
    clash = [c for c in extra if c in columns]
    if clash:
        raise GroupError.of("gerr_column_clash", project.path, column=clash[0])


def monte_carlo_draws(weights, draws: int, spread: float, n_cells_about: float, path=None):
    """The in-memory engine's draws (``uncertainty.draw_weights``, same seed), refused in one line
    when the cells × draws would not fit (MC_MAX_CELL_DRAWS)."""
    from .uncertainty import DEFAULT_SEED, draw_weights

    if n_cells_about * draws > MC_MAX_CELL_DRAWS:
        most = max(1, int(MC_MAX_CELL_DRAWS // max(n_cells_about, 1)))
        raise SkiktError.of("nd_mc_too_large", path, draws=f"{draws:,}", cells=f"{n_cells_about:,.0f}",
                            limit=f"{MC_MAX_CELL_DRAWS:,}", most=f"{most:,}")
    sampled, c = draw_weights(np.asarray(weights, np.float32), draws, spread, DEFAULT_SEED)
    return sampled, c, DEFAULT_SEED


# ------------------------------------------------------------------------------------------------
# Per tile (workers)


def tile_rows(norm: np.ndarray, ids, sectors, all_valid: bool) -> Normalised:
    rows = Normalised(list(ids), list(sectors), norm)
    # The in-memory engine decides "no value missing anywhere" for the whole grid; a tile must
    # take the same branch, or a score could differ in its last bit.
    rows._all_valid = all_valid
    return rows


def extra_scores(rows: Normalised, spec: ExtraSpec) -> tuple[np.ndarray, np.ndarray]:
    """(sector scores (s, n), group and consensus scores (g + 1, n)), float32 as in memory."""
    n = rows.norm.shape[1]
    sector = np.vstack([rows.weighted_mean(w) for w in spec.sectors]) if spec.sectors else np.zeros((0, n), np.float32)
    if spec.groups:
        group = np.vstack([rows.weighted_mean(np.asarray(v, np.float32)) for v in spec.group_vectors])
    else:
        group = np.zeros((0, n), np.float32)
    return sector, group


def distinct_table(values: np.ndarray):
    v = values[~np.isnan(values)]
    return np.unique(v, return_counts=True)


def kth_largest(view, k: int):
    """``composite.top_class``' threshold: the ⌈n/k⌉-th largest value of the table, None if empty."""
    n = len(view)
    if n == 0:
        return None
    return view[n - (-((-n) // k))]


def overlap_of(sector_scores: np.ndarray, thresholds: list) -> np.ndarray:
    overlap = np.zeros(sector_scores.shape[1], np.int8)
    for s, threshold in zip(sector_scores, thresholds):
        if threshold is not None:
            overlap += s >= threshold  # NaN compares False
    return overlap


def group_columns(group_scores: np.ndarray, views: list, group_ids: list[str]) -> dict[str, np.ndarray]:
    """The ``--groups`` columns of one tile in ``groups.group_columns``' order. Ranks are 0 where
    unscored (the table writer shows them empty)."""
    out, percentiles = {}, []
    for i, (score, view) in enumerate(zip(group_scores, views)):
        ok = ~np.isnan(score)
        rank = np.zeros(len(score), np.int64)
        pct = np.full(len(score), np.nan)
        n = len(view)
        if ok.any():
            below, equal = view.below_and_equal(score[ok])
            greater = n - below - equal
            rank[ok] = 1 + greater
            if n == 1:
                pct[ok] = 1.0
            else:  # groups.percentile_ranks: the average rank of the ties, in the same operations
                avg = (greater + (greater + equal) + 1) / 2.0
                pct[ok] = (n - avg) / (n - 1)
        name = group_ids[i] if i < len(group_ids) else "consensus"
        out[f"{name}_score"] = score.astype(float)
        out[f"{name}_rank"] = rank
        if i < len(group_ids):
            percentiles.append(pct)
    with np.errstate(invalid="ignore"):
        stacked = np.vstack(percentiles)
        out["rank_spread"] = stacked.max(axis=0) - stacked.min(axis=0)
    return out


def draw_scores(rows: Normalised, spec: ExtraSpec, start: int, stop: int) -> np.ndarray:
    """(draws, n) float64 scores of draws start…stop−1, −inf where unscored, as monte_carlo."""
    from .uncertainty import _batch_scores

    if spec.spread_zero:  # monte_carlo scores the set weights as combine does, then in float64
        base = combined_score(rows, spec.draws[0], spec.method, spec.alpha).astype(np.float64)
        return np.where(np.isnan(base), -np.inf, base)[None, :]
    owa = rows.owa_order() if spec.method == "owa" else None
    return _batch_scores(rows, spec.draws[start:stop], spec.method, spec.alpha, owa)


def sorted_scores(scores: np.ndarray) -> list[np.ndarray]:
    return [np.sort(row[row > -np.inf]) for row in scores]


def merge_sorted(a: list[np.ndarray], b: list[np.ndarray]) -> list[np.ndarray]:
    """Row by row, two sorted runs as one (a stable sort of two runs is a linear merge)."""
    return [np.sort(np.concatenate([x, y]), kind="stable") for x, y in zip(a, b)]


def draw_ranks(scores: np.ndarray, merged: list[np.ndarray], scored: np.ndarray, dtype) -> np.ndarray:
    """(scored cells, draws) rank of each scored cell in each draw: 1 + scores above, grid-wide."""
    out = np.empty((int(scored.sum()), len(merged)), dtype)
    for d, (row, whole) in enumerate(zip(scores, merged)):
        out[:, d] = 1 + len(whole) - np.searchsorted(whole, row[scored], side="right")
    return out


def uncertainty_columns(chunks: list[np.ndarray], scored: np.ndarray, top_size: int) -> dict[str, np.ndarray]:
    """p_top and rank percentiles per cell from its ranks over every draw (monte_carlo's last step)."""
    from .uncertainty import PERCENTILES

    n = len(scored)
    rank_by_unit = np.concatenate(chunks, axis=1) if chunks else np.zeros((0, 1), np.int32)
    p_top = np.full(n, np.nan)
    p_top[scored] = (rank_by_unit <= top_size).mean(axis=1)
    pct = np.full((len(PERCENTILES), n), np.nan)
    if scored.any():
        pct[:, scored] = np.percentile(rank_by_unit, PERCENTILES, axis=1)
    return {"p_top": p_top, "rank_p05": pct[0], "rank_p50": pct[1], "rank_p95": pct[2]}
