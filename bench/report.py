"""The benchmark's report: the result table the rows fill, its Markdown section of
bench/RESULTS.md, and the headline figures printed as the last stdout line (one JSON object:
what scripts and tests read)."""

import json
import os
import statistics
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(REPO, "bench", "RESULTS.md")
RESULTS_PREAMBLE = ("# Benchmark results\n\nAppended by `python bench/run.py` (see "
                    "bench/README.md); do not edit numbers by hand.\n\n")


class Table:
  """Rows of the result table, plus the headline figures of the final JSON line."""

  COLUMNS = ("benchmark", "setting", "median", "unit", "compile s", "GFLOP/call", "GFLOP/s",
             "% matmul", "compiled GFLOP", "runs", "spread %", "device GiB")

  def __init__(self):
    self.rows, self.headline, self.notes = [], {}, []
    self.matmul = {}  # dtype name -> the matmul row's GFLOP/s

  @property
  def matmul_gflops(self):
    return self.matmul.get("float32")

  @matmul_gflops.setter
  def matmul_gflops(self, value):
    self.matmul["float32"] = value

  def add(self, benchmark, setting, value, unit, compile_s=None, gflop=None, seconds=None,
          times=None, runs=None, compiled_gflop=None, memory_gib=None, dtype="float32"):
    """One row. `gflop`: the model's FLOPs per call (of `reference_model`), the basis of GFLOP/s
    and % matmul (of the matmul row of `dtype`); `compiled_gflop`: what the executable that
    ran counts (sub-pixel deconvs add structural zeros); `seconds`: the median time of one
    call; `times`: the timed runs (their count and spread (max - min) / median go in the
    table); `runs`: a count without a spread; `memory_gib`: device memory of the
    executable (`measure.executable_gib`). Echoes the row on stderr; -> (GFLOP/s, % matmul)."""
    gflops = gflop / seconds if gflop is not None and seconds else None
    reference = self.matmul.get(dtype)
    pct = 100.0 * gflops / reference if gflops is not None and reference else None
    runs = len(times) if times else runs
    spread = (100.0 * (max(times) - min(times)) / statistics.median(times)
              if times and len(times) > 1 else None)
    self.rows.append((benchmark, setting, value, unit, compile_s, gflop, gflops, pct,
                      compiled_gflop, runs, spread, memory_gib))
    print(f"  {benchmark} {setting}: {fmt(value)} {unit}"
          + (f" (compile {compile_s:.1f} s)" if compile_s is not None else "")
          + (f", {gflops:.2f} GFLOP/s" if gflops is not None else "")
          + (f" = {pct:.1f}% of matmul" if pct is not None else ""), file=sys.stderr,
          flush=True)
    return gflops, pct

  def markdown(self) -> str:
    lines = ["| " + " | ".join(self.COLUMNS) + " |",
             "|" + "|".join("---" for _ in self.COLUMNS) + "|"]
    for row in self.rows:
      runs = row[9]
      cells = [row[0], row[1], fmt(row[2]), row[3], fmt(row[4], 1), fmt(row[5]),
               fmt(row[6]), fmt(row[7], 1), fmt(row[8]), "" if runs is None else str(runs),
               fmt(row[10], 0), fmt(row[11])]
      lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def fmt(value, digits=None):
  """A table cell: `digits` decimals when given, else about three significant digits."""
  if value is None:
    return ""
  if isinstance(value, str):
    return value
  if digits is not None:
    return f"{value:.{digits}f}"
  magnitude = abs(value)
  if magnitude >= 100:
    return f"{value:.0f}"
  if magnitude >= 10:
    return f"{value:.1f}"
  if magnitude >= 1:
    return f"{value:.2f}"
  return f"{value:.3g}"


def rounded(headline: dict) -> dict:
  """Headline figures to 4 significant digits (timing noise is larger)."""
  return {k: float(f"{v:.4g}") for k, v in headline.items()}


def headline_json(table: Table) -> str:
  """The last stdout line: the headline figures as one JSON object."""
  return json.dumps(rounded(table.headline))


def section(date: str, mode: str, header: list, table: Table) -> str:
  """One run's Markdown section: title, machine lines (`machine.machine_header`), the table
  and the headline figures."""
  return "\n".join(
      [f"## {date}, {mode} mode", ""] + header
      + ["", table.markdown(), "", "Headline: `" + headline_json(table) + "`", ""])


def append_results(text: str, path: str = RESULTS) -> None:
  """Appends `text` to bench/RESULTS.md, starting the file with its preamble if missing."""
  new = not os.path.exists(path)
  with open(path, "a") as f:
    if new:
      f.write(RESULTS_PREAMBLE)
    f.write(text + "\n")
