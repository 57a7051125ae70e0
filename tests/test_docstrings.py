"""Every public function, class and method of drht_jax has a docstring (what it takes and
returns, with shapes and ranges)."""

import importlib
import inspect
import pkgutil
import types

import drht_jax

def _modules():
  """drht_jax and every module below it, imported."""
  found = [drht_jax]
  for info in pkgutil.walk_packages(drht_jax.__path__, prefix="drht_jax."):
    found.append(importlib.import_module(info.name))
  return found


def _has_own_docstring(obj) -> bool:
  doc = obj.__dict__.get("__doc__") if isinstance(obj, type) else obj.__doc__
  if not doc or not doc.strip():
    return False
  # NamedTuple and dataclass make up a docstring "Name(field, ...)" when none is written.
  return not (isinstance(obj, type) and doc.startswith(f"{obj.__name__}("))


def _public_members(cls):
  """(name, function) of the methods `cls` itself defines (not inherited), public ones."""
  fields = getattr(cls, "__dataclass_fields__", {})   # e.g. a Flax module's `kernel_init`
  for name, value in vars(cls).items():
    if name in fields:
      continue
    if isinstance(value, (staticmethod, classmethod)):
      value = value.__func__
    elif isinstance(value, property):
      value = value.fget
    if not name.startswith("_") and inspect.isfunction(value):
      yield name, value


def undocumented(module) -> list:
  """Qualified names of the public functions, classes and methods defined in `module` (not
  imported into it) that have no docstring of their own."""
  missing = []
  for name, obj in vars(module).items():
    if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
      continue
    if not (inspect.isfunction(obj) or inspect.isclass(obj)):
      continue
    qualified = f"{module.__name__}.{name}"
    if not _has_own_docstring(obj):
      missing.append(qualified)
    if inspect.isclass(obj):
      missing += [f"{qualified}.{m}" for m, fn in _public_members(obj)
                  if not (fn.__doc__ or "").strip()]
  return missing


def test_every_public_function_and_class_has_a_docstring():
  missing = sorted(n for module in _modules() for n in undocumented(module))
  assert not missing, "no docstring:\n  " + "\n  ".join(missing)


def test_the_walk_finds_undocumented_functions_classes_and_methods():
  module = types.ModuleType("fake")
  source = ("def bare(x):\n  return x\n"
            "def documented(x):\n  '''x -> x.'''\n  return x\n"
            "def _private(x):\n  return x\n"
            "class Bare:\n  def method(self):\n    pass\n"
            "  def _helper(self):\n    pass\n")
  exec(compile(source, "fake.py", "exec"), module.__dict__)  # pylint: disable=exec-used
  assert undocumented(module) == ["fake.bare", "fake.Bare", "fake.Bare.method"]
