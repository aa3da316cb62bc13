"""The build step pyproject.toml cannot declare: compiling the translation catalogues.

Everything else about the package is in pyproject.toml. The compiled catalogues (.mo) are
build products, never kept in the tree: a wheel gets them from this step, a development
checkout from ``make translations``.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

# The IdP's catalogues and the demo relying party's own.
CATALOGUES = (Path("idp") / "translations", Path("demo_rp") / "translations")


class build_py_and_catalogues(build_py):  # noqa: N801 - named like the command it extends
    """``build_py``, then every ``messages.po`` compiled into the build beside it, without
    fuzzy entries (as ``make translations``): a fuzzy entry is a guess, never shown."""

    def run(self) -> None:
        super().run()
        if not self.editable_mode:  # an editable install reads the tree: make translations
            for po in sorted(po for folder in CATALOGUES
                             for po in folder.glob("*/LC_MESSAGES/messages.po")):
                compile_catalogue(po, Path(self.build_lib) / po.with_suffix(".mo"))


def compile_catalogue(po: Path, mo: Path) -> None:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as source:
        catalogue = read_po(source, locale=po.parent.parent.name)
    problems = [f"{po}: {message.id!r}: {error}" for message, errors in catalogue.check()
                for error in errors]
    if problems:
        raise SystemExit("\n".join(problems))
    mo.parent.mkdir(parents=True, exist_ok=True)
    with mo.open("wb") as target:
        write_mo(target, catalogue, use_fuzzy=False)


setup(cmdclass={"build_py": build_py_and_catalogues})
