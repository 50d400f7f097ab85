# Shared settings for the scripts: where PostgreSQL's server binaries live.
pg_bin=${INVOICEFLOW_PG_BIN:-}
if [[ -z "$pg_bin" ]]; then
    if command -v pg_config >/dev/null 2>&1 && [[ -x "$(pg_config --bindir)/initdb" ]]; then
        pg_bin=$(pg_config --bindir)
    else
        pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    fi
fi
export pg_bin

# The fingerprint of sql/migrations as InvoiceSchema.fingerprint computes it (FNV-1a 64 over each file's
# name, a NUL, its bytes, a NUL, in name order).
migrations_fingerprint() {
    python3 - <<'PY'
import pathlib
h = 0xcbf29ce484222325
for path in sorted(pathlib.Path("sql/migrations").glob("*.sql"), key=lambda p: p.name):
    for byte in path.name.encode() + b"\0" + path.read_bytes() + b"\0":
        h = ((h ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
print("%016x" % h)
PY
}

# swift build ARGS, then make sure the built invoiceflow embeds sql/migrations as it is: SwiftPM runs the
# build plugin only when the package or its target changes, so a migration added since its last run and
# then edited would stay embedded as first built (a benchmark would measure the old text). Touching
# Package.swift makes SwiftPM run the plugin again.
swift_build_current() {
    local expected binary
    expected=$(migrations_fingerprint)
    # A removed migration can fail the build ("missing inputs"): the plugin's older list still names it.
    if ! swift build "$@"; then
        echo "the build failed; re-evaluating the package and building again" >&2
        touch Package.swift
        swift build "$@"
    fi
    binary="$(swift build "$@" --show-bin-path)/invoiceflow"
    # The output is read whole first: grep -q leaving early would make the pipe fail under pipefail.
    if ! grep -q "fingerprint $expected)" <<<"$("$binary" version)"; then
        echo "the build does not carry sql/migrations as it is; re-evaluating the package and building again" >&2
        touch Package.swift
        swift build "$@"
        grep -q "fingerprint $expected)" <<<"$("$binary" version)" || {
            echo "$binary still does not carry sql/migrations as it is" >&2
            return 1
        }
    fi
}
