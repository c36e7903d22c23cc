# Two entry points (README): `make demo` runs the main job on the demo park, `make test` the tests.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO := inventories/demo-park
OUT := certificates

.PHONY: install demo test lint bench

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test]"
	touch $(STAMP)

# Documents: the CJK font cut from the noto-cjk-sans-otc wheel (~40 s, once), and Debian packages
# (fast HarfBuzz font subsetting; poppler's pdftotext/pdffonts for the document tests; chromium, which
# the web app's browser tests drive through Playwright: tests/browser.py).
FONT := templates/fonts/NotoSansSC-footprint.otf
DEBS := libharfbuzz-subset0 poppler-utils chromium

install: $(STAMP) $(FONT) debs

$(FONT): $(STAMP) footprint/documents/fonts.py
	$(BIN)/python -c "from footprint.documents.fonts import ensure_font; print(ensure_font())"

.PHONY: debs
debs:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian packages:$$missing"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	    || echo "footprint: could not install$$missing; documents still work, slower, and some tests skip (the browser tests fail under CI=true)"; \
	else echo "footprint: please run: sudo apt-get install$$missing (documents work without, slower; some tests skip)"; fi

# The certification body's path: validate, compute, review report + bundle, recompute the bundle,
# a demo reviewer's approval, signed and registered certificates, and a verification; then the
# exporter's: a signed shipment declaration of a sample packing list, and the CBAM communication.
demo: install
	$(BIN)/footprint validate $(DEMO)
	$(BIN)/footprint calc $(DEMO) --json $(OUT)/demo-park-results.json --csv $(OUT)/demo-park-results.csv
	$(BIN)/footprint review $(DEMO) --out $(OUT)
	$(BIN)/footprint recompute $(OUT)/demo-park-bundle.zip
	$(BIN)/footprint reviewers list | grep -q wang.fang || $(BIN)/footprint reviewers add wang.fang \
	  --name "Wang Fang" --organisation "Demo Verification Body (fictitious)"
	$(BIN)/footprint review decide $(DEMO) --approve --reviewer wang.fang \
	  --comment "Demo approval: rows, factors and checks reviewed" --bundle $(OUT)/demo-park-bundle.zip \
	  --statement inventories/demo-statement.yaml
	$(BIN)/footprint certify $(DEMO) --issuer inventories/demo-issuer.yaml --out $(OUT)
	$(BIN)/footprint verify "$$(ls -t $(OUT)/*_*-[0-9][0-9][0-9][0-9][0-9]-?.pdf | head -1)"
	$(BIN)/footprint shipment inventories/demo-shipment.csv --issuer inventories/demo-issuer.yaml --out $(OUT)
	$(BIN)/footprint verify "$$(ls -t $(OUT)/shipment_*.pdf | head -1)"
	$(BIN)/footprint cbam $(DEMO) --out $(OUT)/demo-park-cbam.xlsx --json $(OUT)/demo-park-cbam.json

test: install
	$(BIN)/ruff check footprint tests benchmarks
	$(BIN)/pytest -q

# Speed (README "Speed", benchmarks/README.md): each benchmark against its named baseline measured in the
# same run, wall and CPU time, sizes, peak memory; all in one throwaway data directory (make bench BENCH_HOME=DIR).
BENCH_HOME ?= /tmp/footprint-bench-home
BENCHES := bench_engine.py bench_certificates.py bench_verify.py bench_registry_lookup.py bench_pdf_reading.py bench_signing.py

bench: install
	@set -e; for b in $(BENCHES); do echo "== benchmarks/$$b --home $(BENCH_HOME)"; \
	  $(BIN)/python benchmarks/$$b --home "$(BENCH_HOME)"; done
