"""`import raybee` stays cheap: Ray loads only when raybee.connect() (or the client) is used;
the error types a job handler raises come without Ray too."""

import subprocess
import sys


def test_importing_raybee_and_its_errors_does_not_import_ray():
    code = (
        "import sys, raybee\n"
        "assert callable(raybee.connect)\n"
        "raise_me = raybee.BpmnError('NO_STOCK')\n"
        "assert issubclass(raybee.NotFoundError, raybee.RejectedError)\n"
        "print('ray' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
