"""The report's charts drawn in a second process while the command reads, solves and writes.

matplotlib takes half a second to import and about a second to draw and save the maps and charts of
one plan, and the command's own work (reading, solving, writing the plan files and the other
reports) keeps one core busy. So `relocate solve` and `relocate compare`, when their reports have
charts, start `ChartWorker` first: a `python -m optimizer.report.chartworker` process that imports
matplotlib and loads the map while the command reads and solves, receives the plans' metrics as
soon as they exist (a few kilobytes of JSON, sent only when they come back from JSON exactly as
they are: nothing is pickled, and the worker's command line is fixed), and answers each chart's
SVG and PNG bytes (a forked copy of the worker saves every other chart, on the second core):
the bytes the command would draw itself (the same functions, the same settings). The worker
writes no file and holds no lock; it is in its own session (Ctrl-C reaches the command only) and
ends when the command closes its pipe. If anything is amiss (no worker, a worker that died or
answered nonsense) the command draws the charts itself: the worker changes when charts are drawn,
never what they are.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import json
import math
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..metrics import FairnessMetrics, PlanMetrics, result_metrics
from .charts import Chart, build as draw_charts, png, rc_settings, svg
from .geometry import europe
from .maps import build as draw_maps
from .workerstart import end, spawn

if TYPE_CHECKING:
    from .workerstart import WorkerProcess


class ChartWorker:
    """The parent's side: `start`, then `submit` the variants, then `charts` (once), then `close`."""

    def __init__(self, process: WorkerProcess, formats: tuple[str, ...]):
        self._process = process
        self._formats = formats
        self._submitted = False
        self._answer: list[Chart] | None = None

    @classmethod
    def start(cls, formats: tuple[str, ...], process: WorkerProcess | None = None) -> ChartWorker | None:
        """A worker that will save each chart in `formats` ("svg", "png"): `process` (one started
        early, `workerstart.early_worker`) or one starting up now; None when no process can be
        started (then the command draws in-process)."""
        process = process if process is not None else spawn()
        return cls(process, formats) if process is not None else None

    def submit(self, results: list, comparison: object | None = None) -> None:
        """Ask for the charts of these `pipeline.RunResult`s (with a `compare.Comparison`, its
        metrics): what the document of the same arguments would draw."""
        variants = chart_variants(results, variant_metrics(results, comparison))
        request = encode_request(variants, self._formats)
        if request is None:
            self.close()
            return
        try:
            self._process.stdin.write(request)
            self._process.stdin.close()
            self._submitted = True
        except OSError:
            self.close()

    def charts(self) -> list[Chart] | None:
        """The charts drawn (figure None, bytes in `Chart.saved`), or None: draw them yourself."""
        if not self._submitted:
            return None
        if self._answer is None:
            try:
                self._answer = _read_answer(self._process.stdout)
            except (OSError, ValueError, TypeError, KeyError):  # the worker failed: draw in-process
                self._submitted = False
                self.close()
                return None
        return self._answer

    def close(self) -> None:
        """End the worker (at once: its answer is read or no longer wanted)."""
        end(self._process)


def main() -> None:
    """The worker's side: warm up while the request arrives, draw, answer, end."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    request: list = []
    # Read the request while importing: the command never blocks on a full pipe.
    reader = threading.Thread(target=lambda: request.append(sys.stdin.buffer.read()), daemon=True)
    reader.start()
    _warm_up()
    reader.join()
    if not request or not request[0]:
        return  # the command ended without asking (or died)
    variants, formats = decode_request(request[0])
    try:
        _write_answer(sys.stdout.buffer, _saved(draw_all(variants), formats))
    except OSError:
        pass  # the command is gone


def _saved(charts: list[Chart], formats: tuple[str, ...]) -> list[Chart]:
    """The charts with their bytes saved in `formats`: every other chart saved by a forked copy of
    this process (the command waits for these; the machine has a second core), the rest here."""
    def save(chart: Chart) -> Chart:
        return Chart(chart.name, chart.caption, None, {kind: (svg if kind == "svg" else png)(chart) for kind in formats})

    theirs = charts[1::2]
    if not theirs or not hasattr(os, "fork"):
        return [save(chart) for chart in charts]
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # the copy: save its share, send it, and end without any cleanup of the parent's
        code = 1
        try:
            os.close(read_end)
            with os.fdopen(write_end, "wb") as stream:
                _write_answer(stream, [save(chart) for chart in theirs])
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    answer: list = []
    with os.fdopen(read_end, "rb") as stream:
        reader = threading.Thread(target=lambda: answer.append(stream.read()), daemon=True)
        reader.start()  # read while saving: the copy never blocks on a full pipe
        mine = [save(chart) for chart in charts[0::2]]
        reader.join()
    os.waitpid(child, 0)
    drawn = _read_answer(io.BytesIO(answer[0]))
    if [chart.name for chart in drawn] != [chart.name for chart in theirs]:
        raise ValueError("the copy's answer is not its share of the charts")
    return [chart for pair in itertools.zip_longest(mine, drawn) for chart in pair if chart is not None]


def _write_answer(stream, charts: list[Chart]) -> None:
    """One JSON line (name, caption, [kind, bytes] per chart), then the bytes."""
    header = [[chart.name, chart.caption, [[kind, len(data)] for kind, data in chart.saved.items()]] for chart in charts]
    stream.write(json.dumps(header).encode("utf-8") + b"\n")
    for chart in charts:
        for data in chart.saved.values():
            stream.write(data)
    stream.flush()


def _read_answer(stream) -> list[Chart]:
    """What `_write_answer` wrote."""
    header = json.loads(stream.readline().decode("utf-8"))
    charts = []
    for name, caption, sizes in header:
        saved = {}
        for kind, size in sizes:
            saved[kind] = stream.read(size)
            if len(saved[kind]) != size:
                raise ValueError("the chart worker's answer ended early")
        charts.append(Chart(name, caption, None, saved))
    return charts


# ---------------------------------------------------------------------------------------------
# What is drawn (the document's charts, whoever draws them)


def variant_metrics(results: list, comparison: object | None = None) -> list[PlanMetrics]:
    """Each result's metrics (a comparison's own, when there is one)."""
    return list(comparison.metrics) if comparison is not None else [result_metrics(r) for r in results]


def chart_variants(results: list, metrics: list[PlanMetrics]) -> list[tuple[str, PlanMetrics, pd.DataFrame]]:
    """What the charts are drawn from: (name, metrics, whole states table) per result."""
    return [(result.name, m, result.states) for result, m in zip(results, metrics)]


def draw_all(variants: list[tuple[str, PlanMetrics, pd.DataFrame]]) -> list[Chart]:
    """Every chart of a report: the maps of Europe first (look before reading), then the charts."""
    return draw_maps(variants) + draw_charts([(name, metrics) for name, metrics, _ in variants])


# ---------------------------------------------------------------------------------------------
# The request: each variant's name, metrics and whole states table, as JSON


def encode_request(variants: list[tuple[str, PlanMetrics, pd.DataFrame]], formats: tuple[str, ...]) -> bytes | None:
    """The request as JSON, or None when a variant would not come back exactly as it is (a column
    of a kind JSON does not keep): then the command draws in-process."""
    try:
        payload = {
            "formats": list(formats),
            "variants": [
                {"name": name, "states": _frame(metrics.states), "overall": dataclasses.asdict(metrics.overall), "lorenz": [list(map(float, a)) for a in metrics.lorenz], "table": _frame(states)}
                for name, metrics, states in variants
            ],
        }
        data = json.dumps(payload, default=_plain).encode("utf-8")
        back, _ = decode_request(data)
    except (TypeError, ValueError):
        return None
    return data if all(_same(a, b) for a, b in zip(variants, back)) else None


def decode_request(data: bytes) -> tuple[list[tuple[str, PlanMetrics, pd.DataFrame]], tuple[str, ...]]:
    payload = json.loads(data.decode("utf-8"))
    variants = [
        (v["name"], PlanMetrics(_unframe(v["states"]), FairnessMetrics(**v["overall"]), tuple(np.array(a, dtype=float) for a in v["lorenz"])), _unframe(v["table"]))
        for v in payload["variants"]
    ]
    return variants, tuple(payload["formats"])


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON: {type(value).__name__}")


def _frame(frame: pd.DataFrame) -> dict:
    if isinstance(frame.index, pd.MultiIndex) or isinstance(frame.columns, pd.MultiIndex):
        raise ValueError("several index levels")
    return {
        "index": [frame.index.name, str(frame.index.dtype), frame.index.tolist()],
        "columns": [[name, str(frame.dtypes.iloc[j]), frame.iloc[:, j].tolist()] for j, name in enumerate(frame.columns)],
    }


def _unframe(data: dict) -> pd.DataFrame:
    index_name, index_dtype, index = data["index"]
    columns = {name: pd.Series(values, dtype=dtype, index=range(len(values))) for name, dtype, values in data["columns"]}
    frame = pd.DataFrame(columns, index=range(len(index))) if columns else pd.DataFrame(index=range(len(index)))
    frame.index = pd.Index(index, dtype=index_dtype, name=index_name)
    return frame


def _same(sent: tuple, back: tuple) -> bool:
    """The variant as it came back from JSON is the variant sent: same frames (values, kinds,
    labels), same metrics, same curve."""
    (name, metrics, states), (name_back, metrics_back, states_back) = sent, back
    if name != name_back or not all(np.array_equal(a, b, equal_nan=True) for a, b in zip(metrics.lorenz, metrics_back.lorenz)):
        return False
    if not all(_same_value(getattr(metrics.overall, f.name), getattr(metrics_back.overall, f.name)) for f in dataclasses.fields(FairnessMetrics)):
        return False
    try:
        for a, b in ((metrics.states, metrics_back.states), (states, states_back)):
            pd.testing.assert_frame_equal(a, b, check_exact=True, check_index_type=True, check_column_type=True)
    except (AssertionError, TypeError, ValueError):
        return False
    return True


def _same_value(a, b) -> bool:
    nan = lambda x: isinstance(x, float) and math.isnan(x)  # noqa: E731 (np.float64 is a float)
    return bool(a == b) or (nan(a) and nan(b))


def _warm_up() -> None:
    """Import matplotlib and the map, and save one small figure each way (fonts load on first use)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    europe()
    with matplotlib.rc_context(rc_settings("warm-up")):
        figure = Figure(figsize=(2, 1))
        figure.add_subplot().set_title("warm-up")
        for kind in ("svg", "png"):
            figure.savefig(io.BytesIO(), format=kind)


if __name__ == "__main__":
    main()
