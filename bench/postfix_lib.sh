# Shared by bench/relay_lib.sh and bench/outbound.sh (sourced, not run): a throwaway Postfix
# instance under $PF (never /etc/postfix). Expects PF PF_PORT HZ and die().
pf() { script -qec "postfix -c $PF/etc $*" /dev/null; }   # postfix prints fatals only on a tty
# pf_launch: after main.cf/master.cf are written, start the instance and wait for its smtpd.
pf_launch() {
    chown postfix "$PF/data"; : >"$PF/maillog"
    pf set-permissions >/dev/null 2>&1 || true
    pf check || die "postfix check failed"
    pf start || die "postfix start failed"
    for _ in $(seq 100); do ss -ltn "sport = :$PF_PORT" | grep -q LISTEN && return; sleep 0.1; done
    die "postfix smtpd did not listen on $PF_PORT"
}
pf_queue() { find "$PF/spool/"{maildrop,incoming,active,deferred,hold} -type f 2>/dev/null | wc -l; }
pf_cpu() {   # master (with reaped children) + live children
    local m; m=$(tr -d ' ' <"$PF/spool/pid/master.pid" 2>/dev/null)
    [ -n "$m" ] || { echo 0; return; }
    { awk '{print $14 + $15 + $16 + $17}' "/proc/$m/stat"
      for p in $(pgrep -P "$m"); do awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null; done
    } | awk -v hz="$HZ" '{s += $1} END {printf "%.2f\n", s / hz}'
}
