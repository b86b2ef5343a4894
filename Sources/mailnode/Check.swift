import ArgumentParser

/// `mailnode check …`: run one defense by hand against real DNS, as an operator would while
/// debugging a rejection. Each subcommand prints its result, then the reasoning trail (what was
/// asked, what came back, what decided).
///
/// Exit status: 0 when the check ran, whatever its verdict (a `fail`, a listing and a DNS error
/// are all answers); 64 for bad arguments. Scripts read the `result` line, not the status.
struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a single check by hand.",
        subcommands: [CheckSPF.self, CheckDNSBL.self, CheckDomain.self, CheckDKIM.self, CheckDMARC.self, CheckARC.self, CheckMTASTS.self, CheckDANE.self, CheckAttachments.self])
}
