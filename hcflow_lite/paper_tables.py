"""The paper's published numbers, with where each one was read (book chapter 11).

Tables 2–4 of Liang et al. (ICCV 2021, arXiv 2108.05301) as this project uses them: Table 2,
general SR ×4 on DIV2K-valid (RGB PSNR/SSIM, LPIPS, diversity, LR-PSNR); Table 3, face SR ×8
on CelebA; Table 4, image rescaling ×4 on Set5, Set14, BSD100, Urban100 and DIV2K-valid
(PSNR/SSIM on the Y channel).  The paper's PDF could not be read while this module was written
(it was offline), so every number carries its source and one of three statuses:

``verified``    read in the named source in this project (a file, at a commit);
``secondary``   read from a later paper that states it copies the row from HCFlow's table,
                as transcribed in the project's research notes (``shared/notes/peers.md`` §3),
                not re-read from the paper itself;
``unverified``  recalled, not found in any source that could be read: shown flagged, to be
                checked against the PDF before being quoted.

A row that could not be found at all is absent, and :func:`missing_rows` says so.  Metric names
are those of :func:`hcflow_lite.evaluate.evaluate` (``psnr``, ``ssim``, ``lpips``,
``diversity``, ``lr_psnr``, ``psnr_y``, ``ssim_y``).  :func:`comparison_table` puts our
evaluation results beside these rows, each labelled with the model, checkpoint and data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "OFFICIAL_CHECKPOINTS",
    "OUR_CHECKPOINTS",
    "PAPER",
    "ROWS",
    "SOURCES",
    "STATUS_MARK",
    "TABLES",
    "PaperRow",
    "Source",
    "comparison_table",
    "missing_rows",
    "paper_rows",
    "paper_table",
    "table_datasets",
    "table_models",
]

Status = Literal["verified", "secondary", "unverified"]
PAPER = "Liang, Lugmayr, Zhang, Danelljan, Van Gool, Timofte: Hierarchical Conditional Flow, ICCV 2021, arXiv 2108.05301"
STATUS_MARK = {"verified": "", "secondary": "†", "unverified": "?"}


@dataclass(frozen=True)
class Source:
    """Where numbers were read."""

    key: str
    citation: str
    location: str  #: table, file and commit
    url: str
    note: str = ""


@dataclass(frozen=True)
class PaperRow:
    """One method's published numbers on one dataset."""

    table: int
    method: str
    dataset: str
    metrics: Mapping[str, float]
    source: str  #: a key of :data:`SOURCES`
    status: Status
    temperature: float | None = None
    note: str = ""


@dataclass(frozen=True)
class TableSpec:
    """What one of the paper's tables reports."""

    number: int
    title: str
    task: str  #: ``"sr"`` or ``"rescaling"``
    scale: int
    datasets: tuple[str, ...]
    metrics: tuple[tuple[str, str, int], ...]  #: (key, column title, digits)
    conventions: str
    expected_methods: tuple[str, ...] = field(default=())


SOURCES: dict[str, Source] = {
    "dream": Source(
        "dream",
        "Zhou et al., DREAM: Diffusion Rectification and Estimation-Adaptive Models, CVPR 2024, arXiv 2312.00210",
        "Table 3 (4× SR on DIV2K-valid), whose baselines the paper states it copies from HCFlow's paper; "
        "transcribed in the project's notes (peers.md §3a, source S1)",
        "https://arxiv.org/abs/2312.00210",
        "two decimals for SSIM, as printed there",
    ),
    "irn_readme": Source(
        "irn_readme",
        "Xiao et al., Invertible Image Rescaling, ECCV 2020 (README of the official code)",
        "README.md, 'Quantitative Results', ×4 table, pkuxmq/Invertible-Image-Rescaling @ 0ebe8f9",
        "https://github.com/pkuxmq/Invertible-Image-Rescaling",
        "IRN's own numbers; that HCFlow's Table 4 quotes exactly these baseline rows is recalled, not verified",
    ),
    "recalled": Source(
        "recalled",
        PAPER,
        "recalled in the project's notes (peers.md §3b/§3c), not found in any readable source",
        "https://arxiv.org/abs/2108.05301",
        "check against the paper's PDF before quoting",
    ),
    "srflow_recalled": Source(
        "srflow_recalled",
        "Lugmayr et al., SRFlow, ECCV 2020, arXiv 2006.14200 (Table 2, faces ×8)",
        "recalled in the project's notes (peers.md §3b), not found in any readable source",
        "https://arxiv.org/abs/2006.14200",
        "check against the paper's PDF before quoting",
    ),
}

# The SR tables' LR-PSNR follows SRFlow: PSNR(bicubic↓(SR), LR), i.e. our ``consistency``; the official test
# script also logs the forward LR against the dataset LR (our ``lr_psnr``), shown as a separate column.
_SR_COLUMNS = (("psnr", "PSNR ↑", 2), ("ssim", "SSIM ↑", 2), ("lpips", "LPIPS ↓", 3), ("diversity", "Diversity ↑", 2),
               ("consistency", "LR-PSNR ↑", 2), ("lr_psnr", "forward LR-PSNR ↑", 2))

TABLES: dict[int, TableSpec] = {
    2: TableSpec(
        2, "General image SR ×4 (DIV2K validation)", "sr", 4, ("DIV2K-valid",),
        _SR_COLUMNS,
        "RGB PSNR/SSIM with a border of 4 cropped, LPIPS-AlexNet, diversity = per-pixel std over samples (0–255), "
        "LR-PSNR = PSNR of the SR's bicubic downscale against the LR (SRFlow's definition; our `consistency`); "
        "forward LR-PSNR = the flow's own LR against the dataset LR (logged by the official test script); flows at τ = 0.9",
        ("HCFlow", "HCFlow++"),
    ),
    3: TableSpec(
        3, "Face image SR ×8 (CelebA)", "sr", 8, ("CelebA-test",),
        _SR_COLUMNS,
        "as Table 2 on 160×160 faces, border 8; flows at τ = 0.8",
        ("HCFlow", "HCFlow++"),
    ),
    4: TableSpec(
        4, "Image rescaling ×4", "rescaling", 4, ("Set5", "Set14", "BSD100", "Urban100", "DIV2K-valid"),
        (("psnr_y", "PSNR (Y) ↑", 2), ("ssim_y", "SSIM (Y) ↑", 4)),
        "PSNR/SSIM on the BT.601 Y channel, border 4 cropped; HCFlow and IRN at τ = 1",
        ("HCFlow",),
    ),
}


#: the shipped lite checkpoints (``hcflow_lite/pretrained/``) that stand for the paper's models, per table
OUR_CHECKPOINTS: dict[int, dict[str, str]] = {
    2: {"HCFlow": "sr_x4-lite", "HCFlow+": "sr_x4_plus-lite", "HCFlow++": "sr_x4_plusplus-lite"},
    3: {"HCFlow": "face_x8-lite", "HCFlow+": "face_x8_plus-lite", "HCFlow++": "face_x8_plusplus-lite"},
    4: {"HCFlow": "rescale_x4-lite"},
}
#: the official release files (github.com/JingyunLiang/HCFlow, release v0.0) and their paper configuration
OFFICIAL_CHECKPOINTS: dict[int, dict[str, tuple[str, str]]] = {
    2: {"HCFlow": ("SR_DF2K_X4_HCFlow.pth", "sr_x4"), "HCFlow+": ("SR_DF2K_X4_HCFlow+.pth", "sr_x4"),
        "HCFlow++": ("SR_DF2K_X4_HCFlow++.pth", "sr_x4")},
    3: {"HCFlow": ("SR_CelebA_X8_HCFlow.pth", "face_x8"), "HCFlow+": ("SR_CelebA_X8_HCFlow+.pth", "face_x8"),
        "HCFlow++": ("SR_CelebA_X8_HCFlow++.pth", "face_x8")},
    4: {"HCFlow": ("Rescaling_DF2K_X4_HCFlow.pth", "rescale_x4")},
}


def _t4(method: str, values: Sequence[tuple[float, float]], source: str, status: Status, note: str = "",
        temperature: float | None = None) -> list[PaperRow]:
    return [PaperRow(4, method, ds, {"psnr_y": p, "ssim_y": s}, source, status, temperature, note)
            for ds, (p, s) in zip(TABLES[4].datasets, values)]


def _t2(method: str, psnr: float, ssim: float, lpips: float, note: str = "", temperature: float | None = None) -> PaperRow:
    return PaperRow(2, method, "DIV2K-valid", {"psnr": psnr, "ssim": ssim, "lpips": lpips}, "dream", "secondary",
                    temperature, note)


ROWS: tuple[PaperRow, ...] = (
    # ---- Table 2: general SR ×4, DIV2K-valid (as copied by DREAM, Table 3)
    _t2("Bicubic", 26.7, 0.77, 0.409, "PSNR printed with one decimal (26.7) in the source"),
    _t2("EDSR", 28.98, 0.83, 0.270),
    _t2("RRDB", 29.44, 0.84, 0.253),
    _t2("ESRGAN", 26.22, 0.75, 0.124),
    _t2("RankSRGAN", 26.55, 0.75, 0.128),
    _t2("SRFlow", 27.09, 0.76, 0.121, "flow, τ = 0.9 in its paper"),
    _t2("HCFlow", 27.02, 0.76, 0.124, "NLL-trained model; the temperature is not given in the source", None),
    _t2("HCFlow++", 26.61, 0.74, 0.110, "with perceptual and GAN losses; the temperature is not given in the source", None),
    # ---- Table 3: face SR ×8, CelebA
    PaperRow(3, "SRFlow", "CelebA-test", {"psnr": 25.24, "ssim": 0.71, "lpips": 0.110, "consistency": 50.85},
             "srflow_recalled", "unverified", 0.8),
    # ---- Table 4: image rescaling ×4 (Y channel)
    *_t4("Bicubic & Bicubic", [(28.42, 0.8104), (26.00, 0.7027), (25.96, 0.6675), (23.14, 0.6577), (26.66, 0.8521)],
         "irn_readme", "verified"),
    *_t4("Bicubic & EDSR", [(32.62, 0.8984), (28.94, 0.7901), (27.79, 0.7437), (26.86, 0.8080), (29.38, 0.9032)],
         "irn_readme", "verified"),
    *_t4("Bicubic & ESRGAN", [(32.74, 0.9012), (29.00, 0.7915), (27.84, 0.7455), (27.03, 0.8152), (30.92, 0.8486)],
         "irn_readme", "verified"),
    *_t4("CAR & EDSR", [(33.88, 0.9174), (30.31, 0.8382), (29.15, 0.8001), (29.28, 0.8711), (32.82, 0.8837)],
         "irn_readme", "verified"),
    *_t4("IRN", [(36.19, 0.9451), (32.67, 0.9015), (31.64, 0.8826), (31.41, 0.9157), (35.07, 0.9318)],
         "irn_readme", "verified", "mean over 5 draws of z (IRN README)", 1.0),
    *_t4("HCFlow", [(36.29, 0.9468), (33.02, 0.9065), (31.74, 0.8864), (31.62, 0.9206), (35.23, 0.9346)],
         "recalled", "unverified", "", 1.0),
)


def paper_rows(table: int, dataset: str | None = None, method: str | None = None) -> list[PaperRow]:
    """The published rows of ``table`` (optionally of one dataset or method)."""
    if table not in TABLES:
        raise ValueError(f"table must be one of {sorted(TABLES)}, got {table!r}")
    return [r for r in ROWS if r.table == table and (dataset is None or r.dataset == dataset)
            and (method is None or r.method == method)]


def missing_rows(table: int) -> list[str]:
    """The paper's own rows (HCFlow variants) of ``table`` that no readable source gave."""
    spec = TABLES[table]
    have = {(r.method, r.dataset) for r in paper_rows(table)}
    return [f"{m} on {ds}" for m in spec.expected_methods for ds in spec.datasets if (m, ds) not in have]


def _fmt(value: Any, digits: int) -> str:
    if value is None or value == "":
        return "–"
    if value == "inf":
        return "∞"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    return "–" if v != v else f"{v:.{digits}f}"


def _source_line(key: str) -> str:
    s = SOURCES[key]
    return f"{s.citation}: {s.location}" + (f" ({s.note})" if s.note else "")


def paper_table(table: int, dataset: str | None = None) -> str:
    """Markdown of the published rows of ``table``, with status marks and a source line per source."""
    spec = TABLES[table]
    rows = paper_rows(table, dataset)
    cols = spec.metrics
    lines = [f"**Table {table}. {spec.title}** — {spec.conventions}.", "",
             "| method | data | " + " | ".join(c[1] for c in cols) + " | source |", "|" + "---|" * (len(cols) + 3)]
    for r in rows:
        mark = STATUS_MARK[r.status]
        cells = [_fmt(r.metrics.get(k), d) + (mark if k in r.metrics else "") for k, _, d in cols]
        lines.append(f"| {r.method} | {r.dataset} | " + " | ".join(cells) + f" | {r.source} |")
    lines += ["", *[f"* `{k}`: {_source_line(k)}" for k in dict.fromkeys(r.source for r in rows)]]
    lines.append("* † secondary (copied by a later paper), ? unverified (recalled): check the paper before quoting.")
    missing = missing_rows(table)
    if missing:
        lines.append(f"* Not found in any readable source: {', '.join(missing)}.")
    return "\n".join(lines)


def comparison_table(table: int, results: Sequence[Mapping[str, Any]], dataset: str | None = None) -> str:
    """The paper's rows of ``table`` and ours (:func:`~hcflow_lite.evaluate.evaluate` results), side by side.

    Each of our rows is labelled with what produced it: the model label (profile, checkpoint), the
    data (name, number of images) and τ.  Paper rows on another dataset than ours are kept (they
    are what the paper reports) but the ``data`` column shows the difference.
    """
    spec = TABLES[table]
    cols = spec.metrics
    lines = ["| | method | data | τ | " + " | ".join(c[1] for c in cols) + " |", "|" + "---|" * (len(cols) + 4)]
    for r in paper_rows(table, dataset):
        mark = STATUS_MARK[r.status]
        t = "–" if r.temperature is None else f"{r.temperature:g}"
        cells = [_fmt(r.metrics.get(k), d) + (mark if k in r.metrics else "") for k, _, d in cols]
        lines.append(f"| paper | {r.method} [{r.source}] | {r.dataset} | {t} | " + " | ".join(cells) + " |")
    for res in results:
        ds = res["dataset"]
        data = f"{ds['name']} ({ds['n_images']} img.)"
        for run in res["runs"]:
            t = run.get("temperature")
            cells = [_fmt(run.get(k), d) for k, _, d in cols]
            lines.append(f"| **ours** | {res['model']['label']} | {data} | {'–' if t is None else f'{float(t):g}'} | "
                         + " | ".join(cells) + " |")
    sources = dict.fromkeys(r.source for r in paper_rows(table, dataset))
    lines += ["", *[f"* paper rows, `{k}`: {_source_line(k)}" for k in sources],
              "* † secondary, ? unverified (see `hcflow_lite.paper_tables`); – not reported / not computed."]
    missing = missing_rows(table)
    if missing:
        lines.append(f"* Paper rows not available offline: {', '.join(missing)} (arXiv 2108.05301, Table {table}).")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ reproducing a table
def table_models(
    table: int,
    checkpoints: Mapping[str, str] | None = None,
    official_dir: str | None = None,
) -> tuple[list[tuple[str, Callable[[], Any]]], list[str]]:
    """The models that can reproduce ``table`` here: ``([(label, load), …], notes)``.

    ``checkpoints`` (label → our checkpoint path or shipped name) replaces the shipped lite
    checkpoints of :data:`OUR_CHECKPOINTS`; ``official_dir`` adds the official release files of
    :data:`OFFICIAL_CHECKPOINTS` found there (loaded with :func:`hcflow_lite.load_official`).
    ``load`` builds the model when called; ``notes`` say what is missing and how to get it.
    """
    from .models import load_checkpoint, load_official
    from .pretrained import available_pretrained

    if table not in TABLES:
        raise ValueError(f"table must be one of {sorted(TABLES)}, got {table!r}")
    models: list[tuple[str, Callable[[], Any]]] = []
    notes: list[str] = []
    if checkpoints is not None:
        for label, source in checkpoints.items():
            models.append((f"{label} · {source}", lambda s=source: load_checkpoint(s)))
    else:
        shipped = set(available_pretrained())
        for method, name in OUR_CHECKPOINTS[table].items():
            if name in shipped:
                models.append((f"{method} · shipped {name}", lambda n=name: load_checkpoint(n)))
            else:
                notes.append(f"no shipped {name} checkpoint ({method}, lite): train it with `python -m hcflow_lite "
                             f"train --config {name} --workdir runs/{name}` and pass checkpoints={{'{method}': "
                             f"'runs/{name}/last.pt'}}")
    if official_dir is not None:
        for method, (filename, options) in OFFICIAL_CHECKPOINTS[table].items():
            path = Path(official_dir).expanduser() / filename
            if path.is_file():
                models.append((f"{method} · official {filename}", lambda p=path, o=options: load_official(p, o)))
            else:
                notes.append(f"official {filename} not in {official_dir} (release v0.0 of github.com/JingyunLiang/HCFlow)")
    return models, notes


def table_datasets(
    table: int,
    datasets: Sequence[str] | None = None,
    data_root: str | Path | None = None,
    fallback_roots: Sequence[str | Path] = (),
) -> tuple[list[tuple[str, Any]], list[str]]:
    """The evaluation sets of ``table`` that exist here: ``([(name, dataset), …], notes)``.

    ``datasets`` defaults to the paper's (:attr:`TableSpec.datasets`).  Each is looked for under
    ``data_root`` (default ``$HCFLOW_DATA``), then under ``fallback_roots`` (e.g. the
    repository's ``tests/data``, which holds Set5).  When none of the paper's sets is found, the
    table is evaluated on a stand-in, named as such: Set5 for the SR ×4 table, the sample set's
    two faces for the face table.  ``notes`` say what is missing and how to get it.
    """
    from .data import PairedDataset, benchmark_dataset, get_dataset, sample_set
    from .data.folders import DatasetNotFoundError

    spec = TABLES[table]
    wanted = list(datasets or spec.datasets)
    found: list[tuple[str, Any]] = []
    notes: list[str] = []

    def locate(name: str) -> Any:
        error: Exception | None = None
        for root in (data_root, *fallback_roots):
            try:
                if name.startswith("CelebA"):
                    return get_dataset(name, root, spec.scale, mod=spec.scale)
                return benchmark_dataset(name, root, scale=spec.scale)
            except (DatasetNotFoundError, KeyError, ValueError) as e:
                error = error or e
        raise DatasetNotFoundError(str(error))

    for name in wanted:
        try:
            found.append((name, locate(name)))
        except DatasetNotFoundError as e:
            notes.append(f"{name}: {e}")
    if not found:
        if spec.scale == 8:
            faces = PairedDataset(Path(sample_set()) / "faces" / "HR", None, 8, name="sample-set faces")
            found.append(("sample-set faces (stand-in for CelebA)", faces))
        else:
            try:
                found.append(("Set5 (stand-in)", locate("Set5")))
            except DatasetNotFoundError as e:
                notes.append(f"Set5: {e}")
    return found, notes
