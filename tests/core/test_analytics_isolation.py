"""retento.analytics must be usable without the web stack."""

import subprocess
import sys


def test_analytics_imports_without_fastapi_or_sqlalchemy():
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('fastapi', 'sqlalchemy', 'starlette', 'alembic'):\n"
        "            raise ImportError('blocked ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import retento.analytics as a\n"
        "for name in a.__all__: getattr(a, name)\n"
        "bad = [m for m in sys.modules if m.startswith('retento.') and not m.startswith('retento.analytics')]\n"
        "assert not bad, bad\n"
        "print('ok', len(a.__all__))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok")
