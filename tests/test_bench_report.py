"""bench/report.py: the table's Markdown, the headline JSON line, and appending to a results
file (its preamble written once)."""

import json

from bench import report


def _table():
  table = report.Table()
  table.matmul["float32"] = 100.0
  table.add("train joint", "64x128 batch 2", 12.345, "img/s", compile_s=3.0, gflop=2.0,
            seconds=0.04, times=[0.04, 0.05, 0.03])
  table.headline["train_joint_64x128_img_s"] = 12.345678
  return table


def test_row_gets_gflops_pct_matmul_runs_and_spread():
  row = _table().rows[0]
  assert row[6] == 50.0 and row[7] == 50.0  # 2 GFLOP / 0.04 s; over matmul's 100
  assert row[9] == 3 and round(row[10]) == 50  # (0.05 - 0.03) / 0.04


def test_section_has_header_table_and_headline(tmp_path):
  text = report.section("2026-01-01 00:00 UTC", "quick", ["- CPU: x"], _table())
  assert text.startswith("## 2026-01-01 00:00 UTC, quick mode")
  assert "- CPU: x" in text and "| train joint | 64x128 batch 2 | 12.3 | img/s |" in text
  assert json.loads(report.headline_json(_table())) == {"train_joint_64x128_img_s": 12.35}
  path = str(tmp_path / "RESULTS.md")
  report.append_results(text, path)
  report.append_results(text, path)
  with open(path) as f:
    content = f.read()
  assert content.count("# Benchmark results") == 1 and content.count("quick mode") == 2
