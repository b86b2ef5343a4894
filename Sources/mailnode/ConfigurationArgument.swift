/// The `--config FILE` of a subcommand. The root command owns `--config` (for `--role`) and
/// ArgumentParser hands it the value wherever it stands on the command line, so a subcommand
/// that declares its own `--config` (for `--help`) reads the value from the command line when it
/// was not handed over: `mailnode review`, `mailnode quarantine`, `mailnode users`.
enum ConfigurationArgument {
    /// `declared` when ArgumentParser set it, else `--config FILE` or `--config=FILE` from the
    /// command line, else nil.
    static func file(declared: String?, arguments: [String] = Array(CommandLine.arguments.dropFirst())) -> String? {
        if let declared { return declared }
        for (index, argument) in arguments.enumerated() {
            if argument == "--config", index + 1 < arguments.count { return arguments[index + 1] }
            if argument.hasPrefix("--config=") { return String(argument.dropFirst("--config=".count)) }
        }
        return nil
    }
}
