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

# swift build ARGS, then make sure the built invoiceflow embeds every file of sql/migrations: the build plugin
# lists that folder only when SwiftPM re-evaluates the package, so a migration added since the last
# evaluation would be silently missing (a benchmark would measure the old schema). Touching Package.swift
# makes SwiftPM re-evaluate it.
swift_build_current() {
    local newest binary
    newest=$(basename "$(ls sql/migrations/*.sql | sort | tail -n 1)" .sql)
    swift build "$@"
    binary="$(swift build "$@" --show-bin-path)/invoiceflow"
    # The output is read whole first: grep -q leaving early would make the pipe fail under pipefail.
    if ! grep -qx "schema $newest (.*)" <<<"$("$binary" version)"; then
        echo "the build lacks migration $newest; re-evaluating the package and building again" >&2
        touch Package.swift
        swift build "$@"
        grep -qx "schema $newest (.*)" <<<"$("$binary" version)" || {
            echo "$binary still lacks migration $newest" >&2
            return 1
        }
    fi
}
