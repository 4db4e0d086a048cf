"""Does picsift's dependency list resolve to wheels on Linux, macOS and Windows? Asks PyPI, installs nothing.

Run: python tests/benchmarks/platform_deps.py [--python 3.11] [--uv PATH]
Writes tests/benchmarks/results/platform_deps.json and prints it. Needs PyPI; the offline part
(which packages pyproject's markers select per platform) is tests/test_platform_deps.py.

For each platform the markers in pyproject.toml are evaluated here, for that platform, and then
  direct      `pip install --dry-run --no-deps --only-binary=:all: --platform ... --python-version ...`
              resolves every selected requirement to a wheel for that platform (the check the
              issue asks for; PEP 658 metadata, so no wheel is downloaded);
  transitive  `uv pip compile --python-platform ... --only-binary :all:` resolves the whole tree,
              when uv is on PATH or given. pip cannot: `--platform` changes the wheel tags it
              accepts but not how it evaluates markers, so on macOS it would look for torch's
              Linux-only CUDA requirements.
Packages PyPI has only as source (hnswlib, used on Linux; macOS and Windows get the chroma-hnswlib
wheels) are listed apart: pip builds them on the user's machine,
with a C++ compiler.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).parent / "results" / "platform_deps.json"
# No wheels on PyPI at all (hnswlib 0.8.0 is an sdist): installing builds them, so a binary-only check
# would fail on every platform for a reason that is no platform's.
SOURCE_ONLY = {"hnswlib": "PyPI has an sdist only: pip builds it at install time with a C++ compiler (any platform)"}


@dataclass(frozen=True)
class Platform:
    """How one target looks to markers, to pip's wheel tags and to uv."""

    sys_platform: str
    platform_system: str
    platform_machine: str
    os_name: str
    pip_tags: tuple[str, ...]  # pip --platform values; pip widens macOS tags to older versions, not manylinux ones
    uv_platform: str
    uv_env: tuple[tuple[str, str], ...] = ()  # e.g. the macOS version uv targets

    def markers(self, python: str = "3.11") -> dict[str, str]:
        """The marker environment of CPython `python` on this platform (host values never leak in)."""
        return {
            "sys_platform": self.sys_platform, "platform_system": self.platform_system,
            "platform_machine": self.platform_machine, "os_name": self.os_name,
            "python_version": python, "python_full_version": f"{python}.0", "implementation_version": f"{python}.0",
            "implementation_name": "cpython", "platform_python_implementation": "CPython",
            "platform_release": "", "platform_version": "", "extra": "",
        }


def _manylinux(glibc_minor: int, arch: str) -> tuple[str, ...]:
    """Every manylinux tag a system with glibc 2.<glibc_minor> accepts, newest first."""
    return tuple(f"manylinux_2_{minor}_{arch}" for minor in range(glibc_minor, 16, -1))


# The oldest systems each target stands for: glibc 2.35 is Ubuntu 22.04; on aarch64 PySide6 6.11
# ships for glibc 2.39 (Ubuntu 24.04) only; torch 2.13.0's macOS wheel needs macOS 14 on Apple silicon
# (PyPI has no torch for Intel Macs since 2.3).
PLATFORMS = {
    "linux-x86_64": Platform("linux", "Linux", "x86_64", "posix", _manylinux(35, "x86_64"), "x86_64-manylinux_2_35"),
    "linux-aarch64": Platform("linux", "Linux", "aarch64", "posix", _manylinux(39, "aarch64"), "aarch64-manylinux_2_39"),
    "macos-arm64": Platform("darwin", "Darwin", "arm64", "posix", ("macosx_14_0_arm64",), "aarch64-apple-darwin",
                            (("MACOSX_DEPLOYMENT_TARGET", "14.0"),)),
    "windows-x64": Platform("win32", "Windows", "AMD64", "nt", ("win_amd64",), "x86_64-pc-windows-msvc"),
}


def project_requirements() -> list[Requirement]:
    """[project].dependencies of pyproject.toml, parsed."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [Requirement(line) for line in project["dependencies"]]


def selected(requirements: list[Requirement], platform: Platform, python: str = "3.11") -> list[Requirement]:
    """The requirements whose markers hold on `platform`, markers dropped."""
    environment = platform.markers(python)
    chosen = [r for r in requirements if r.marker is None or r.marker.evaluate(environment)]
    return [Requirement(f"{r.name}{r.specifier}") for r in chosen]


def check_direct(requirements: list[Requirement], platform: Platform, python: str) -> dict:
    """pip resolves each requirement alone to a wheel for `platform` (no dependencies)."""
    resolved, failed = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        run = _pip_dry_run(requirements, platform, python, Path(tmp), report)
        if run.returncode == 0:
            resolved = _from_report(report)
        else:  # find which ones have no wheel
            for requirement in requirements:
                one = _pip_dry_run([requirement], platform, python, Path(tmp), report)
                if one.returncode == 0:
                    resolved.update(_from_report(report))
                else:
                    failed[str(requirement)] = _last_error(one.stderr)
    return {"ok": not failed, "resolved": resolved, "no_wheel": failed}


def check_transitive(requirements: list[Requirement], platform: Platform, python: str, uv: str | None) -> dict:
    """uv resolves the whole dependency tree to wheels for `platform`."""
    if uv is None:
        return {"ok": None, "skipped": "uv not found; pass --uv or put it on PATH"}
    command = [uv, "pip", "compile", "-", "--python-platform", platform.uv_platform, "--python-version", python,
               "--only-binary", ":all:", "--no-header", "--no-annotate", "--quiet"]
    env = {**os.environ, **dict(platform.uv_env)}
    run = subprocess.run(command, input="\n".join(map(str, requirements)), capture_output=True, text=True, env=env)
    if run.returncode != 0:
        return {"ok": False, "error": _last_error(run.stderr)}
    pins = [line.strip() for line in run.stdout.splitlines() if "==" in line]
    return {"ok": True, "packages": len(pins), "pins": pins}


def _pip_dry_run(requirements, platform: Platform, python: str, target: Path, report: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-deps", "--only-binary=:all:",
               "--python-version", python, "--implementation", "cp", "--target", str(target / "site"),
               "--report", str(report), "--quiet", "--disable-pip-version-check"]
    command += [arg for tag in platform.pip_tags for arg in ("--platform", tag)]
    return subprocess.run(command + [str(r) for r in requirements], capture_output=True, text=True)


def _from_report(report: Path) -> dict[str, str]:
    """name -> the wheel pip chose, from its --report."""
    items = json.loads(report.read_text())["install"]
    return {item["metadata"]["name"]: item["download_info"]["url"].rsplit("/", 1)[-1] for item in items}


def _last_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("ERROR")] or stderr.splitlines()[-1:]
    return lines[-1] if lines else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default="3.11", help="target CPython version (pyproject: >=3.11)")
    parser.add_argument("--uv", default=shutil.which("uv"), help="uv executable for the transitive check")
    args = parser.parse_args()
    results = {"python": args.python, "pip": _pip_version(), "source_builds": SOURCE_ONLY, "platforms": {}}
    for name, platform in PLATFORMS.items():
        requirements = [r for r in selected(project_requirements(), platform, args.python) if r.name not in SOURCE_ONLY]
        results["platforms"][name] = {
            "onnx_runtime": [r.name for r in requirements if r.name.startswith("onnxruntime")],
            "direct": check_direct(requirements, platform, args.python),
            "transitive": check_transitive(requirements, platform, args.python, args.uv),
        }
        print(f"{name}: direct ok={results['platforms'][name]['direct']['ok']} "
              f"transitive ok={results['platforms'][name]['transitive']['ok']}", file=sys.stderr, flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))


def _pip_version() -> str:
    return subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True, text=True).stdout.split()[1]


if __name__ == "__main__":
    main()
