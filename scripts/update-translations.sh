#!/usr/bin/env bash
# Refresh the translation catalogues after user-visible strings changed:
#   1. extract every _() / gettext / _l / lazy_gettext / lazy_pgettext string (babel.cfg: idp/**.py and
#      idp/templates/**.html) into idp/translations/messages.pot;
#   2. merge it into each catalogue: new strings arrive with an EMPTY msgstr, never with a
#      fuzzy guess from a similar string (a guess would be shown to citizens if compiled
#      with -f, and hides the work left); strings no longer used are dropped;
#   3. fill the English catalogue: English is the source language, its msgstr is the msgid;
#   4. the same for the demo RP's own catalogue (babel-demo-rp.cfg), Spanish only.
# Then translate the empty entries of the other catalogues (tests/test_translations.py names
# them) and run `make translations` to compile the .mo files.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-.venv/bin}
DIR=idp/translations
POT=$DIR/messages.pot
LOCALES=(es ca gl eu ca_ES_VALENCIA en)
mkdir -p "$DIR"

# The keywords must match tests/test_translations.py (Babel < 2.18 ignores them in babel.cfg).
"$BIN/pybabel" --quiet extract --mapping-file babel.cfg --keyword _l --keyword lazy_gettext \
    --keyword lazy_pgettext:1c,2 \
    --add-location file --sort-by-file --add-comments TRANSLATORS: \
    --project "Clave IdP" --copyright-holder "Clave IdP contributors" \
    --output-file "$POT" .

for locale in "${LOCALES[@]}"; do
    "$BIN/pybabel" --quiet update --input-file "$POT" --output-dir "$DIR" --locale "$locale" \
        --domain messages --init-missing --no-fuzzy-matching --ignore-obsolete \
        --ignore-pot-creation-date
done

"$BIN/python" - "$DIR/en/LC_MESSAGES/messages.po" <<'PY'
import sys

from babel.messages.pofile import read_po, write_po

path = sys.argv[1]
with open(path, "rb") as handle:
    catalog = read_po(handle, locale="en")
for message in catalog:
    if message.id and not message.string:
        message.string = message.id
with open(path, "wb") as handle:
    write_po(handle, catalog)
PY

# The demo RP has its own small catalogue: its texts are English, its default Spanish.
DEMO_DIR=demo_rp/translations
mkdir -p "$DEMO_DIR"
"$BIN/pybabel" --quiet extract --mapping-file babel-demo-rp.cfg --keyword _l \
    --add-location file --sort-by-file --project "Clave IdP demo RP" \
    --copyright-holder "Clave IdP contributors" --output-file "$DEMO_DIR/messages.pot" .
"$BIN/pybabel" --quiet update --input-file "$DEMO_DIR/messages.pot" --output-dir "$DEMO_DIR" \
    --locale es --domain messages --init-missing --no-fuzzy-matching --ignore-obsolete \
    --ignore-pot-creation-date

echo "Catalogues updated. Empty entries left to translate:"
"$BIN/python" - "$DIR" "${LOCALES[@]}" <<'PY'
import sys
from pathlib import Path

from babel.messages.pofile import read_po

directory, locales = Path(sys.argv[1]), sys.argv[2:]
for path in [directory / locale / "LC_MESSAGES" / "messages.po" for locale in locales] + [
        Path("demo_rp/translations/es/LC_MESSAGES/messages.po")]:
    with open(path, "rb") as handle:
        catalog = read_po(handle)
    empty = [m.id for m in catalog if m.id and not m.string]
    print(f"  {path.parent.parent}: {len(empty)}")
PY
