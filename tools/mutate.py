"""Mutation testing of the modules whose numbers we report (`make mutate`), with mutmut 3.

Why groups: mutmut reads one `[tool.mutmut]` table, but each module has its own few fast test files, and
running every test that happens to touch `runs.py` (all the trainers) for each of its mutants would take
hours on two cores. So each group gets a scratch copy of the package and the tests under `.mutmut/<group>/`
with its own `[tool.mutmut]` table; mutmut then runs, per mutant, only the tests of that group that execute
the mutated function. Results stay in `.mutmut/<group>/mutants/` (mutmut's cache); surviving mutants are
printed and written to `.mutmut/<group>/survivors.txt`, with their diffs in `survivors.diff`.

    python tools/mutate.py                      # every group, fresh copies
    python tools/mutate.py runs text-evaluate   # some groups
    python tools/mutate.py --keep runs          # reuse the cached results (only new mutants are run)
    python tools/mutate.py --rerun runs         # the last run's survivors again, against today's tests
    python tools/mutate.py --report runs        # list the last run's survivors
    python tools/mutate.py --jobs 1 metrics-fidelity

Every survivor must be killed by a test or explained: `tools/mutants/<group>.toml` holds `[[explained]]` entries,
each with `mutants` (names or fnmatch patterns such as `tokbench.runs.x_read_json__mutmut_1?`) and `why`. The
report marks each survivor with its reason, lists the unexplained ones, warns about entries that match no
survivor (stale after an edit), and exits 1 when any survivor is unexplained.

A rerun keeps the source the mutants were made from, and makes mutmut map every test of the group to the
functions it calls afresh (mutmut's own incremental mapping only adds tests with new names, so a mutant would
never reach a test that was edited since). With `--keep`, changing a group's test file list or pytest arguments
makes mutmut forget every cached result of that group. A source changed since the last run needs a fresh run.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutmut"
EXPLAINED = ROOT / "tools" / "mutants"

#: group -> (modules to mutate, the fast test files that check them, process isolation)
GROUPS: dict[str, tuple[list[str], list[str], str]] = {
    "text-evaluate": (["tokbench/text/evaluate.py"],
                      ["tests/test_eval_text.py", "tests/test_reported_numbers.py", "tests/test_eval_text_by_hand.py",
                       "tests/test_eval_text_sweep.py", "tests/test_text_comparisons.py"],
                      "fork"),
    "audio-evaluate": (["tokbench/audio/evaluate.py"], ["tests/test_audio_eval_numbers.py"], "forkserver"),
    "runs": (["tokbench/runs.py"],
             ["tests/test_runs.py", "tests/test_runs_contract.py", "tests/test_runs_reliability.py",
              "tests/test_reported_numbers.py", "tests/test_runs_mutants.py"], "fork"),
    "metrics-text": (["tokbench/metrics/premiums.py", "tokbench/metrics/rate.py", "tokbench/metrics/codebook.py"],
                     ["tests/test_premiums.py", "tests/test_eval_text.py", "tests/test_reported_numbers.py",
                      "tests/test_metrics_by_hand.py"], "fork"),
    "metrics-fidelity": (["tokbench/metrics/fidelity.py", "tokbench/metrics/fid.py", "tokbench/metrics/inception.py"],
                         ["tests/test_audio_metrics.py", "tests/test_fidelity_images.py", "tests/test_fid.py",
                          "tests/test_inception.py", "tests/test_metrics_by_hand.py"], "forkserver"),
}
#: seconds added to each mutant's CPU-time limit: mutmut times only the test calls, not their module fixtures,
#: the audio group's fixture trains and evaluates a codec; text-evaluate's fixtures train BPE runs (tiny_hf_run,
#: tiny_spm_run, a 30,000-token shortfall run, a triad run) through the mutated evaluation code; metrics-fidelity's
#: tests last well under a second each, and a loaded 2-core machine stretches their wall time past 5 x that
TIMEOUT_CONSTANT = {"audio-evaluate": 120.0, "text-evaluate": 30.0, "metrics-fidelity": 10.0}
#: tests that read the source tree itself (not the mutated module's behaviour)
DESELECT = {"runs": ["tests/test_runs_reliability.py::test_class05_library_writers_go_through_write_artifact"]}
#: what the tests need besides the package and the tests folder
COPY = ("tokbench", "tests", "apps", "pyproject.toml")


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


def prepare(group: str, keep: bool, tests_only: bool = False) -> Path:
    """A scratch copy of the package and tests with this group's `[tool.mutmut]` table (`tests_only`: refresh
    the tests and the table, keep the source the existing mutants were made from)."""
    modules, tests, isolation = GROUPS[group]
    work = WORK / group
    if work.exists() and not keep:
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".hypothesis")
    for name in (("tests", "pyproject.toml") if tests_only else COPY):
        src, dst = ROOT / name, work / name
        if dst.exists():
            shutil.rmtree(dst) if dst.is_dir() else dst.unlink()
        if src.is_dir():
            shutil.copytree(src, dst, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, dst)
    tests = [t for t in tests if (ROOT / t).exists()]
    table = (
        "\n[tool.mutmut]\n"
        'source_paths = ["tokbench"]\n'
        f"only_mutate = {_toml_list(modules)}\n"
        f"pytest_add_cli_args_test_selection = {_toml_list(tests)}\n"
        # fast tests only, and no cache folder written into the copy
        'pytest_add_cli_args = ["-m", "not slow and not browser", "-p", "no:cacheprovider", "-q"'
        + "".join(f', "--deselect", "{t}"' for t in DESELECT.get(group, [])) + "]\n"
        f'process_isolation = "{isolation}"\n'
        "use_git_change_detection = false\n"
        "timeout_multiplier = 5.0\n"
        f"timeout_constant = {TIMEOUT_CONSTANT.get(group, 1.0)}\n"
    )
    with open(work / "pyproject.toml", "a", encoding="utf-8") as fh:
        fh.write(table)
    return work


#: run inside a group's folder: every mutant that was not killed, with its diff, as JSON lines
_LIST_SURVIVORS = """
import json
from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.mutation.data import SourceFileMutationData
from mutmut.stats import status_by_exit_code
from mutmut.utils.file_utils import walk_mutatable_files
for path in walk_mutatable_files():
    m = SourceFileMutationData(path=path)
    m.load()
    for name, code in m.exit_code_by_key.items():
        status = status_by_exit_code[code]
        if status not in ("killed", "caught by type check", "not checked"):  # a rerun leaves the rest unchecked
            print(json.dumps({"name": name, "status": status, "diff": get_diff_for_mutant(name, path=m.path)}))
"""


def survivors(work: Path) -> list[dict]:
    out = subprocess.run([sys.executable, "-c", _LIST_SURVIVORS], cwd=work, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"cannot read mutmut's results in {work}: {out.stderr[-500:]}")
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def run_group(group: str, jobs: int, keep: bool, rerun: bool = False) -> list[str]:
    """Run mutmut on a fresh copy (or, with `rerun`, run the last run's survivors again against the tests as
    they are now: the mutants keep the source they were made from)."""
    names = [m["name"] for m in survivors(WORK / group)] if rerun else []
    work = prepare(group, keep or rerun, tests_only=rerun)
    env = {**os.environ, "TOKBENCH_PROGRESS": "0", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONDONTWRITEBYTECODE": "1", "TOKBENCH_MUTATION_CACHE": str(work / "fixture-cache")}
    env.pop("PYTHONPATH", None)
    print(f"== {group}: mutating {', '.join(GROUPS[group][0])}"
          + (f" (again: {len(names)} survivors)" if rerun else ""), flush=True)
    if rerun and not names:
        return []
    if rerun:
        # mutmut maps tests to the functions they call once, then only adds tests with new names: a test that
        # was edited (or a test file whose calls changed) keeps its old mapping, and a mutant is never routed
        # to it. Dropping the mapping makes mutmut collect it again from every test as it is now (one pass of
        # the group's tests); the cached verdicts stay, and only `names` are run again.
        (work / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
    rc = subprocess.call([sys.executable, "-m", "mutmut", "run", "--max-children", str(jobs), *names], cwd=work,
                         env=env)
    if rc != 0:
        raise SystemExit(f"mutmut failed on group {group} (exit {rc})")
    return report(group)


def explanations(group: str) -> list[dict]:
    """The group's `[[explained]]` entries (`mutants`: names or patterns, `why`: the reason), or none."""
    path = EXPLAINED / f"{group}.toml"
    if not path.exists():
        return []
    try:
        entries = tomllib.loads(path.read_text(encoding="utf-8")).get("explained", [])
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SystemExit(f"{path}: cannot read it ({exc})") from None
    if not isinstance(entries, list):
        raise SystemExit(f"{path}: `explained` must be an array of tables ([[explained]] entries)")
    for entry in entries:
        # a string for `mutants` would be read character by character, and a "*" would explain everything
        ok = (isinstance(entry, dict) and isinstance(entry.get("mutants"), list) and entry["mutants"]
              and all(isinstance(p, str) and p for p in entry["mutants"])
              and isinstance(entry.get("why"), str) and entry["why"].strip())
        if not ok:
            raise SystemExit(f"{path}: every [[explained]] entry needs `mutants`, a non-empty list of names or "
                             f"patterns, and `why`, a non-empty string ({entry!r})")
    return entries


def why_survived(name: str, entries: list[dict]) -> str | None:
    """The first explanation whose patterns match this mutant's name."""
    for entry in entries:
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in entry["mutants"]):
            return entry["why"]
    return None


def report(group: str) -> list[str]:
    """Write the group's surviving mutants (one line each, with the changed line and the reason it is allowed to
    survive) and their diffs; return the names of the unexplained ones."""
    work = WORK / group
    left = survivors(work)
    entries = explanations(group)
    lines, unexplained = [], []
    for m in left:
        changed = [ln for ln in m["diff"].splitlines() if ln[:1] in "-+" and not ln.startswith(("---", "+++"))]
        why = why_survived(m["name"], entries)
        if why is None:
            unexplained.append(m["name"])
        lines.append(f"{m['name']}: {m['status']}  |  " + "  |  ".join(" ".join(ln.split()) for ln in changed)
                     + f"  ||  {why or 'UNEXPLAINED'}")
    (work / "survivors.txt").write_text("".join(f"{ln}\n" for ln in lines), encoding="utf-8")
    (work / "survivors.diff").write_text("".join(f"# {m['name']}: {m['status']}\n{m['diff']}\n" for m in left),
                                         encoding="utf-8")
    names = [m["name"] for m in left]
    for entry in entries:
        stale = [p for p in entry["mutants"] if not any(fnmatch.fnmatchcase(n, p) for n in names)]
        if stale:
            print(f"   note: tools/mutants/{group}.toml: {', '.join(stale)} match no survivor (killed or renamed)")
    print(f"== {group}: {len(left)} surviving mutants, {len(unexplained)} unexplained "
          f"(see {work / 'survivors.txt'})", flush=True)
    for line in lines:
        if line.endswith("UNEXPLAINED"):
            print("   ", line[:200])
    return unexplained


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("groups", nargs="*", help=f"groups to run (default: all): {', '.join(GROUPS)}")
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested at once (default 2: two cores)")
    parser.add_argument("--keep", action="store_true", help="reuse the group's cached mutmut results")
    parser.add_argument("--report", action="store_true", help="no mutation run: mark the last run's survivors with their explanations (rewrites .mutmut/GROUP/survivors.txt), print the unexplained ones; exit 1 if any")
    parser.add_argument("--rerun", action="store_true", help="run the last run's survivors again (new tests)")
    args = parser.parse_args(argv)
    unknown = [g for g in args.groups if g not in GROUPS]
    if unknown:
        parser.error(f"unknown group(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}")
    total = 0
    for group in args.groups or list(GROUPS):
        total += len(report(group) if args.report else run_group(group, args.jobs, args.keep, args.rerun))
    print(f"unexplained surviving mutants in all: {total}")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
