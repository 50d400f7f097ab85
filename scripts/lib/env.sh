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
