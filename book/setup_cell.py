# Set-up (the same first cell in every chapter). Locally, where hcflow_lite is installed, it does
# nothing. On Colab, or anywhere the package is missing, it installs the version this book was
# built with, keeping the runtime's own PyTorch; set MOUNT_DRIVE = True to keep checkpoints on
# Google Drive (the parameters cell below then uses it as its work directory).
import importlib.util
import os
import subprocess
import sys

HCFLOW_LITE_VERSION = "0.1.0"
MOUNT_DRIVE = False
IN_COLAB = "google.colab" in sys.modules or os.environ.get("HCFLOW_FORCE_COLAB") == "1"
if importlib.util.find_spec("hcflow_lite") is None:
    source = os.environ.get(
        "HCFLOW_LITE_SOURCE",
        f"hcflow-lite @ git+https://github.com/hcflow-book/hcflow-book@v{HCFLOW_LITE_VERSION}",
    )
    print(f"installing hcflow_lite {HCFLOW_LITE_VERSION} from {source}")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", source], check=True)
if IN_COLAB and MOUNT_DRIVE:
    from google.colab import drive

    drive.mount("/content/drive")
    os.environ.setdefault("HCFLOW_WORKDIR", "/content/drive/MyDrive/hcflow-book")
