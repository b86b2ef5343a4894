import ArgumentParser

/// `mailnode`: one binary, every stage of the mail architecture.
@main
struct Mailnode: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mailnode",
        abstract: "A dependable and secure mail node.",
        subcommands: [Up.self])
}
