# Set-up, the same first cell in every chapter. Where hcflow_lite is installed (a local clone) it
# does nothing. On Colab, or wherever the package is missing, it installs the release this book
# was built with, and LPIPS if torchvision is there, without ever replacing the runtime's PyTorch.
# Tick MOUNT_DRIVE to keep checkpoints and results on Google Drive: a later session resumes them.
import importlib
import importlib.metadata
import importlib.util
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

HCFLOW_LITE_VERSION = "@HCFLOW_LITE_VERSION@"
MOUNT_DRIVE = False  # @param {type:"boolean"}
DRIVE_WORKDIR = "/content/drive/MyDrive/hcflow-book"  # @param {type:"string"}
IN_COLAB = "google.colab" in sys.modules or os.environ.get("HCFLOW_FORCE_COLAB") == "1"


def installed_version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


if importlib.util.find_spec("hcflow_lite") is None:
    source = os.environ.get("HCFLOW_LITE_SOURCE") or (  # a wheel, an sdist, or a (git+)https URL
        f"https://github.com/hcflow-book/hcflow-book/releases/download/v{HCFLOW_LITE_VERSION}/"
        f"hcflow_lite-{HCFLOW_LITE_VERSION}-py3-none-any.whl"
    )
    if os.path.exists(source):
        source = pathlib.Path(source).resolve().as_uri()
    keep = [f"{d}=={installed_version(d)}" for d in ("torch", "torchvision", "torchaudio") if installed_version(d)]
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as pins:
        pins.write("".join(f"{k}\n" for k in keep))  # pip may not replace these, whatever it resolves
    extra = "[metrics]" if installed_version("torchvision") else ""  # LPIPS needs the runtime's torchvision
    print(f"installing hcflow_lite {HCFLOW_LITE_VERSION}{extra} from {source}; keeping {', '.join(keep) or 'no torch'}")
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--constraint", pins.name, f"hcflow-lite{extra} @ {source}"]
    returncode = subprocess.run(cmd).returncode
    os.unlink(pins.name)
    if returncode != 0:
        raise RuntimeError(f"could not install hcflow_lite from {source} (pip's message is above); "
                           "set HCFLOW_LITE_SOURCE to a wheel or to git+https://github.com/hcflow-book/hcflow-book@main")
    importlib.invalidate_caches()
elif installed_version("hcflow-lite") not in (None, HCFLOW_LITE_VERSION):
    print(f"note: hcflow_lite {installed_version('hcflow-lite')} is installed; this book was built with {HCFLOW_LITE_VERSION}")
if MOUNT_DRIVE and IN_COLAB:
    from google.colab import drive

    drive.mount("/content/drive")
    os.makedirs(DRIVE_WORKDIR, exist_ok=True)
    os.environ["HCFLOW_WORKDIR"] = DRIVE_WORKDIR  # read by the parameters cell below
    print(f"work directory on Google Drive: {DRIVE_WORKDIR}; re-running a chapter resumes its runs")
elif MOUNT_DRIVE:
    print("MOUNT_DRIVE applies on Colab only; set HCFLOW_WORKDIR to choose the work directory here")
if IN_COLAB and shutil.which("nvidia-smi") is None:
    print("no GPU in this runtime: the smoke and lite profiles run on the CPU; for profile='full' choose "
          "Runtime > Change runtime type > GPU")
