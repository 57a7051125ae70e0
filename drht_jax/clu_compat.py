"""Lets `clu.metric_writers` import where TensorFlow is not installed (this project's case).

`clu.metric_writers/__init__.py` (clu 0.0.12) imports its TensorFlow summary writer, and
TensorFlow is not a dependency here (data come through Grain and array_record). Importing this
module first registers a stand-in for `clu.metric_writers.summary_writer` whose `SummaryWriter`
raises a clear ImportError if anyone constructs it; every other clu writer, `MultiWriter` and
`periodic_actions` work as they are, and TensorBoard event files come from tensorboardX
(`train_lib.TensorBoardXWriter`). With TensorFlow installed, nothing is replaced.
"""

import importlib.util
import sys
import types

if importlib.util.find_spec("tensorflow") is None:

  class _SummaryWriterNeedsTensorFlow:  # pylint: disable=too-few-public-methods
    def __init__(self, *args, **kwargs):
      raise ImportError("clu's SummaryWriter needs TensorFlow; use TensorBoardXWriter")

  _stand_in = types.ModuleType("clu.metric_writers.summary_writer")
  _stand_in.SummaryWriter = _SummaryWriterNeedsTensorFlow
  sys.modules.setdefault("clu.metric_writers.summary_writer", _stand_in)
