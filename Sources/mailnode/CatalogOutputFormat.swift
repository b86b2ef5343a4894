import ArgumentParser

/// `--format` of `mailnode catalog` and `mailnode review`.
enum CatalogOutputFormat: String, CaseIterable, ExpressibleByArgument {
    /// Columns wrapped to fit a 100-column terminal.
    case table
    /// Pretty-printed JSON with sorted keys (stable for diffs and scripts).
    case json
    /// GitHub-flavoured Markdown tables, for docs and tickets.
    case markdown
}
